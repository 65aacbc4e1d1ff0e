import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { redactUrl } from '../config/env.js';
import type { Database } from './schema.js';

/** Postgres could not be reached or refused us; the message names the server (never the password) and the cause. */
export class DatabaseUnavailableError extends Error {
  override readonly name = 'DatabaseUnavailableError';
}

/** Options of a database handle. */
export interface DatabaseOptions {
  /** Connections in the pool. Default 4: the writer's concurrency plus the control plane. */
  maxConnections?: number;
  /** `application_name` shown in pg_stat_activity. Default `dossier-sync`. */
  applicationName?: string;
  /**
   * Told when a pooled connection fails on its own (Postgres restarted, the network cut). Default: nobody — the
   * query it carried, if any, fails and is reported by its caller; fleet processes pass their error reporter.
   */
  onConnectionError?: (error: unknown) => void;
}

/** Opens a kysely handle over a node-postgres pool. */
export function createDatabase(url: string, options: DatabaseOptions = {}): Kysely<Database> {
  const pool = new pg.Pool({
    connectionString: url,
    max: options.maxConnections ?? 4,
    application_name: options.applicationName ?? 'dossier-sync',
    connectionTimeoutMillis: 10_000,
  });
  // A client losing its connection (Postgres restart) must not crash the process. node-postgres emits 'error'
  // on the client itself, and the pool listens only while the client is idle: a client checked out for a batch
  // (mid-transaction, or even mid-query once its socket closes) would throw "Unhandled 'error' event". The
  // query in flight is rejected anyway, the batch is retried whole, and the pool drops the broken client. The
  // pool and the client may both tell of one failure: the reporter counts an error object once.
  const onError = options.onConnectionError ?? (() => {});
  pool.on('error', onError);
  pool.on('connect', (client) => client.on('error', onError));
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
}

/** Checks that Postgres answers; throws DatabaseUnavailableError with a message an operator can act on. */
export async function assertDatabaseReachable(db: Kysely<Database>, url: string): Promise<void> {
  try {
    await db.selectNoFrom((eb) => eb.val(1).as('one')).execute();
  } catch (error) {
    throw new DatabaseUnavailableError(
      `cannot use Postgres at ${redactUrl(url)} (DATABASE_URL): ${describePgError(error)}; expected a running PostgreSQL 15 that accepts this user and database`,
    );
  }
}

/** A short, secret-free description of a node-postgres error. */
export function describePgError(error: unknown): string {
  if (error instanceof AggregateError && error.errors.length > 0) return describePgError(error.errors[0]);
  if (error instanceof Error) {
    const code = (error as { code?: string }).code;
    return code ? `${error.message} (${code})` : error.message;
  }
  return String(error);
}

/**
 * True for the Postgres errors no retry can fix: data exceptions (class 22) and integrity violations (class 23),
 * caused by what a statement carried. Anything else — a lost connection, a restart, a deadlock, a serialization
 * failure — may pass.
 */
export function isDataError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (code.startsWith('22') || code.startsWith('23'));
}

/** Fixed descriptions of the data errors a write can meet (Postgres's own condition names, in words). */
const dataErrorDescriptions: Record<string, string> = {
  '22001': 'text longer than its column allows',
  '22003': "a number out of its column's range",
  '22007': 'a date or time in a form the database cannot read',
  '22008': 'a date or time out of the range the database stores',
  '22009': 'a date or time out of the range the database stores (or an impossible time zone offset)',
  '22021': "a character the database's encoding cannot hold (NUL)",
  '22P02': 'a value that is not valid for its type (for text: an unpaired surrogate)',
  '22P05': 'a character the database cannot store (NUL)',
  '23502': 'a required value missing',
  '23503': 'a reference to a row that does not exist',
  '23505': 'a duplicate of a unique value',
  '23514': 'a value its table does not allow (a check constraint, or a province with no partition)',
};

/**
 * A description of a data error that can never carry the refused value: the SQLSTATE, a fixed description, and
 * the column or constraint Postgres names — never its message or detail, which quote the value (a name, an ID
 * number) and the JSON around it.
 */
export function describeDataError(error: unknown): string {
  const { code, column, constraint } = (error ?? {}) as { code?: unknown; column?: unknown; constraint?: unknown };
  const sqlState = typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : 'unknown';
  const description =
    dataErrorDescriptions[sqlState] ??
    (sqlState.startsWith('23')
      ? 'an integrity constraint violation'
      : sqlState.startsWith('22')
        ? 'a data exception'
        : 'an error');
  const identifier = (value: unknown) =>
    typeof value === 'string' && /^[a-z_][a-z0-9_]{0,62}$/.test(value) ? value : null;
  const place = [
    identifier(column) && `column ${identifier(column)}`,
    identifier(constraint) && `constraint ${identifier(constraint)}`,
  ]
    .filter(Boolean)
    .join(', ');
  return `SQLSTATE ${sqlState}: ${description}${place ? ` (${place})` : ''}`;
}
