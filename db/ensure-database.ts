import pg from 'pg';
import { redactUrl } from '../config/env.js';
import { DatabaseUnavailableError, describePgError } from './database.js';

/**
 * Creates the database DATABASE_URL names when the server has no such database yet, so a fresh machine
 * needs no manual `createdb`. Connects to the server's `postgres` database to do it.
 */
export async function ensureDatabase(url: string): Promise<void> {
  const target = new URL(url);
  const name = decodeURIComponent(target.pathname.replace(/^\//, '')) || 'postgres';
  const maintenance = new URL(url);
  maintenance.pathname = '/postgres';
  const client = new pg.Client({ connectionString: maintenance.toString(), connectionTimeoutMillis: 5_000 });
  // A connection lost mid-query rejects that query; the client's 'error' event must not also crash the process.
  client.on('error', () => {});
  try {
    await client.connect();
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (found.rowCount === 0) await client.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
  } catch (error) {
    // Two processes creating it at once: the loser sees 42P04 (duplicate database), which is fine.
    if ((error as { code?: string }).code === '42P04') return;
    throw new DatabaseUnavailableError(
      `cannot use Postgres at ${redactUrl(url)} (DATABASE_URL): ${describePgError(error)}; expected a running PostgreSQL 15 that accepts this user`,
    );
  } finally {
    // Silent on purpose: the outcome (or the error thrown above) is already decided; a failed goodbye changes nothing.
    await client.end().catch(() => {});
  }
}
