import { isAxiosError } from 'axios';

/**
 * A province system could not be read. `transient` tells the retry policy whether trying again can help
 * (timeouts, resets, 5xx, 429) or not (4xx: a wrong URL, key or request). The message names the request and
 * what to check, never a secret or a payload.
 */
export class SourceError extends Error {
  override readonly name = 'SourceError';
  constructor(
    message: string,
    readonly transient: boolean,
    /** The HTTP status, when the system answered. */
    readonly status: number | null = null,
  ) {
    super(message);
  }
}

const transientCodes = new Set(['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'ECONNABORTED', 'EPIPE', 'EAI_AGAIN', 'ENOTFOUND', 'ERR_SOCKET_CONNECTION_TIMEOUT']);

/** Turns an axios failure into a SourceError a provincial IT team can act on. */
export function toSourceError(error: unknown, what: string): SourceError {
  if (error instanceof SourceError) return error;
  if (isAxiosError(error)) {
    const status = error.response?.status ?? null;
    if (status !== null) {
      const hint =
        status === 401 || status === 403
          ? 'check the credentials configured for this connector'
          : status === 404
            ? 'check the base URL and path'
            : status === 429
              ? 'the system is throttling us'
              : status >= 500
                ? 'the province system failed'
                : 'the system refused the request';
      return new SourceError(`${what}: the province system answered HTTP ${status}; ${hint}`, status >= 500 || status === 408 || status === 429, status);
    }
    const code = error.code ?? 'network error';
    return new SourceError(`${what}: no answer from the province system (${code}); check the base URL and that it is reachable`, transientCodes.has(code) || code === 'network error');
  }
  const message = error instanceof Error ? error.message : String(error);
  return new SourceError(`${what}: ${message}`, false);
}
