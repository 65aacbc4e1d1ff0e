import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import type { TestProject } from 'vitest/node';
import { createDatabase } from '../../db/database.js';
import { migrateToLatest } from '../../db/migrate.js';
import { adminDatabaseUrl, urlForDatabase } from './database-urls.js';

// Vitest's global setup: one database migrated once per run, that every test file's database is a copy of
// (`CREATE DATABASE … TEMPLATE`). Migrating the whole schema for each of some hundred test files cost seconds each on a
// loaded machine; a copy of a migrated database takes a fraction of a second and is the same schema.

declare module 'vitest' {
  export interface ProvidedContext {
    /** The run's migrated database, which test files copy (see createTestEnvironment). */
    migratedTemplate: string;
  }
}

/** Creates and migrates the run's template database; the returned teardown drops it. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const name = `dossier_sync_template_${randomBytes(4).toString('hex')}`;
  const admin = createDatabase(adminDatabaseUrl(), { maxConnections: 1 });
  await sql`CREATE DATABASE ${sql.id(name)}`.execute(admin);
  // A copy can only be made while no one is connected to its template: this connection is closed before any test.
  const template = createDatabase(urlForDatabase(name), { maxConnections: 1 });
  try {
    await migrateToLatest(template);
  } finally {
    await template.destroy();
  }
  project.provide('migratedTemplate', name);
  return async () => {
    await sql`DROP DATABASE IF EXISTS ${sql.id(name)} WITH (FORCE)`.execute(admin);
    await admin.destroy();
  };
}
