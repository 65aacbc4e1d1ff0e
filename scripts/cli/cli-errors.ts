import { ConfigError } from '../../config/env.js';
import { DatabaseUnavailableError } from '../../db/database.js';
import { RedisUnavailableError } from '../../workers/redis.js';

/** Bad input on the command line: exit code 2, as DESIGN.md's CLI contract says. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** Prints one line for an error a person can act on and returns the exit code (2 bad input, 1 otherwise). */
export function reportCliError(error: unknown): number {
  if (error instanceof ConfigError || error instanceof UsageError) {
    console.error(error.message);
    return 2;
  }
  if (error instanceof DatabaseUnavailableError || error instanceof RedisUnavailableError) {
    console.error(error.message);
    return 1;
  }
  console.error(`fleet: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  return 1;
}
