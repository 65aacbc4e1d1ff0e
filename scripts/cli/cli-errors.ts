import { ConfigError } from '../../config/env.js';
import { isCodedError } from '../../config/error-catalogue.js';
import { DatabaseUnavailableError } from '../../db/database.js';
import { RedisUnavailableError } from '../../workers/redis.js';

/** The exit codes of `fleet`, as `fleet --help` and the README list them. */
export const exitCodes = {
  /** Done. */
  done: 0,
  /** Failed: a check that does not pass, a service out of reach, an unexpected error. */
  failed: 1,
  /** Bad input: an unknown verb or option, a bad value, a definition that does not validate. */
  badInput: 2,
  /** Not found: no such connector, dead letter, failed batch or API key. */
  notFound: 3,
} as const;

/** The exit codes as `fleet --help` shows them. */
export const exitCodesHelp = `
Exit codes:
  0  done
  1  failed (a check that does not pass, Postgres or Redis out of reach, an unexpected error)
  2  bad input (an unknown verb or option, a bad value, a definition that does not validate)
  3  not found (no such connector, dead letter, failed batch or API key)

Output: -o json (and -o yaml where a definition is shown) prints the view the admin API returns; an unexpected
error is one line on stderr, its stack trace only with --debug.`;

/** Bad input on the command line: exit code 2, one line. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** What the command names does not exist (a connector, dead letter, failed batch or key): exit code 3, one line. */
export class NotFoundError extends Error {
  override readonly name = 'NotFoundError';
}

/** The catalogue code an error carries (`connector_not_found`, `signature_invalid`…), if it carries one. */
export function errorCode(error: unknown): string | undefined {
  return isCodedError(error) ? error.code : undefined;
}

/** An error's message on one line; an AggregateError (every address of a host refused) says what its first did. */
function oneLine(error: unknown): string {
  if (!(error instanceof Error)) return String(error).replace(/\s+/g, ' ').trim();
  const inner = error instanceof AggregateError ? (error.errors[0] as unknown) : undefined;
  const message =
    error.message ||
    (inner instanceof Error ? inner.message : '') ||
    ((error as { code?: unknown }).code as string | undefined) ||
    error.name;
  return message.replace(/\s+/g, ' ').trim();
}

/** Whether an error is one a person can act on from its message alone, and the exit code it means. */
function expectedExitCode(error: unknown): number | undefined {
  if (error instanceof ConfigError || error instanceof UsageError) return exitCodes.badInput;
  if (error instanceof NotFoundError) return exitCodes.notFound;
  if (error instanceof DatabaseUnavailableError || error instanceof RedisUnavailableError) return exitCodes.failed;
  return undefined;
}

/**
 * Prints one line on stderr for an error and returns the exit code. An error a person can act on prints its
 * message; an unexpected one `fleet: [code: ]message` and a hint. With `debug`, the stack trace follows.
 */
export function reportCliError(error: unknown, options: { debug: boolean }): number {
  const expected = expectedExitCode(error);
  if (expected !== undefined) {
    // Its own words: a definition's problems are one a line, on purpose.
    console.error((error as Error).message);
  } else {
    const code = errorCode(error);
    const hint = options.debug ? '' : ' (an unexpected error: run again with --debug for its stack trace)';
    // The class of a plain failure says nothing; a SyntaxError or a TypeError says where to look.
    const kind = error instanceof Error && error.name !== 'Error' && !code ? `${error.name}: ` : '';
    console.error(`fleet: ${code ? `${code}: ` : kind}${oneLine(error)}${hint}`);
  }
  if (options.debug && error instanceof Error && error.stack) console.error(error.stack);
  return expected ?? exitCodes.failed;
}
