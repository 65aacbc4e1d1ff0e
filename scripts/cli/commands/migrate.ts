import type { Config } from '../../../config/env.js';
import { assertDatabaseReachable, createDatabase } from '../../../db/database.js';
import { ensureDatabase } from '../../../db/ensure-database.js';
import { migrateToLatest } from '../../../db/migrate.js';

/** `fleet migrate`: creates the database if needed and brings its schema up to date. Idempotent. */
export async function migrateCommand(config: Config): Promise<string[]> {
  await ensureDatabase(config.DATABASE_URL);
  const db = createDatabase(config.DATABASE_URL, { maxConnections: 1 });
  try {
    await assertDatabaseReachable(db, config.DATABASE_URL);
    const results = await migrateToLatest(db);
    return results.map((result) => result.migrationName);
  } finally {
    await db.destroy();
  }
}
