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
    /** How long the system asked us to wait (`Retry-After`), when it said. */
    readonly retryAfterMs: number | null = null,
  ) {
    super(message);
  }
}

/** A `Retry-After` header (seconds, or an HTTP date) in milliseconds from now; null when absent or unreadable. */
export function retryAfterOf(header: unknown, now = Date.now()): number | null {
  if (typeof header !== 'string' || header.trim() === '') return null;
  if (/^\d+$/.test(header.trim())) return Number(header.trim()) * 1000;
  const at = Date.parse(header);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}

const transientCodes = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ETIMEDOUT',
  'ECONNABORTED',
  'EPIPE',
  'EAI_AGAIN',
  'ENOTFOUND',
  'ERR_SOCKET_CONNECTION_TIMEOUT',
]);

/**
 * A failure classified by a connector's `retry.transientStatusCodes` (source-policy.ts): a request the system
 * answered is transient exactly when its status is listed; one it did not answer keeps its own classification.
 */
export function withTransientStatuses(failure: SourceError, transientStatusCodes: readonly number[]): SourceError {
  if (failure.status === null) return failure;
  const transient = transientStatusCodes.includes(failure.status);
  return transient === failure.transient
    ? failure
    : new SourceError(failure.message, transient, failure.status, failure.retryAfterMs);
}

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
      const retryAfter = retryAfterOf(error.response?.headers?.['retry-after']);
      return new SourceError(
        `${what}: the province system answered HTTP ${status}; ${hint}`,
        status >= 500 || status === 408 || status === 429,
        status,
        retryAfter,
      );
    }
    const code = error.code ?? 'network error';
    return new SourceError(
      `${what}: no answer from the province system (${code}); check the base URL and that it is reachable`,
      transientCodes.has(code) || code === 'network error',
    );
  }
  const message = error instanceof Error ? error.message : String(error);
  return new SourceError(`${what}: ${message}`, false);
}
