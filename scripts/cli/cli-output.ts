import type { Kysely } from 'kysely';
import type { Config } from '../../config/env.js';
import {
  assertDatabaseReachable,
  createDatabase,
  DatabaseUnavailableError,
  describePgError,
} from '../../db/database.js';
import type { Database } from '../../db/schema.js';

/** Runs `work` with a database handle, closed afterwards. A schema that is not migrated says so in one line. */
export async function withDatabase<T>(config: Config, work: (db: Kysely<Database>) => Promise<T>): Promise<T> {
  const db = createDatabase(config.DATABASE_URL, { maxConnections: 1, applicationName: 'dossier-sync-cli' });
  try {
    await assertDatabaseReachable(db, config.DATABASE_URL);
    return await work(db);
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    // undefined_table, undefined_column: the database predates a migration.
    if (code === '42P01' || code === '42703') {
      throw new DatabaseUnavailableError(
        `the database schema is not up to date (${describePgError(error)}); run fleet migrate`,
      );
    }
    throw error;
  } finally {
    await db.destroy();
  }
}

/** A table for the terminal: a header row and left-aligned columns. */
export function formatTable(header: string[], rows: string[][]): string {
  const widths = header.map((cell, column) => Math.max(cell.length, ...rows.map((row) => (row[column] ?? '').length)));
  return [header, ...rows]
    .map((row) =>
      row
        .map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column]!)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** A time to the second, UTC; `-` for none. */
export function formatTime(time: Date | string | null | undefined): string {
  if (time === null || time === undefined) return '-';
  return `${new Date(time).toISOString().slice(0, 19).replace('T', ' ')}Z`;
}
