import type { ReadinessFailureCode } from './http-server.js';

/**
 * A readiness check's failure that is another dependency's fault, told by that dependency's code and reason: the
 * migrations check cannot read `schema_migrations` when Postgres is down, and must not say migrations are pending.
 */
export class ReadinessFailure extends Error {
  constructor(
    /** The code the check answers with instead of its own. */
    readonly code: ReadinessFailureCode,
    /** The fixed reason shown with it. */
    readonly reason: string,
    options: { cause: unknown },
  ) {
    super(reason, options);
    this.name = 'ReadinessFailure';
  }
}
