import { readFileSync } from 'node:fs';
import { z } from 'zod';

/**
 * A secret is never written in a connector definition nor stored in Postgres: the definition names where to
 * find it, an environment variable or a file (a mounted Kubernetes/Docker secret).
 */
export const secretReference = z.union(
  [z.object({ env: z.string().regex(/^[A-Z_][A-Z0-9_]*$/) }).strict(), z.object({ file: z.string().min(1) }).strict()],
  {
    error:
      'expected a secret reference, {env: VARIABLE_NAME} or {file: /path/to/secret}; a secret itself is never written in a definition',
  },
);
export type SecretReference = z.infer<typeof secretReference>;

/** A secret reference that names nothing usable; the message names the reference, never a value. */
export class SecretUnavailableError extends Error {
  override readonly name = 'SecretUnavailableError';
}

/**
 * A secret read when a request first needs it, not when its connector is built: a process that only maps
 * records (a gateway mapping pushed updates) never needs the province system's credentials. Read once, then
 * kept; while its reference names nothing, each use throws SecretUnavailableError.
 */
export function lazySecret(reference: SecretReference, what: string): () => string {
  let value: string | null = null;
  return () => (value ??= resolveSecret(reference, what));
}

/** Reads a secret now. */
function resolveSecret(reference: SecretReference, what: string): string {
  if ('env' in reference) {
    const value = process.env[reference.env];
    if (!value) throw new SecretUnavailableError(`${what}: environment variable ${reference.env} is not set`);
    return value;
  }
  try {
    const value = readFileSync(reference.file, 'utf8').trim();
    if (!value) throw new SecretUnavailableError(`${what}: secret file ${reference.file} is empty`);
    return value;
  } catch (error) {
    if (error instanceof SecretUnavailableError) throw error;
    throw new SecretUnavailableError(
      `${what}: cannot read secret file ${reference.file} (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
    );
  }
}
