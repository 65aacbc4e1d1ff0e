import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { sql, type Kysely } from 'kysely';
import { inject } from 'vitest';
import { loadConfig, type Config } from '../../config/env.js';
import { parseClusterUrl } from '../../config/redis-url.js';
import { createDatabase } from '../../db/database.js';
import { migrateToLatest } from '../../db/migrate.js';
import type { Database } from '../../db/schema.js';
import { adminDatabaseUrl, urlForDatabase } from './database-urls.js';

const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A database and a Redis key prefix of one test file's own, removed by `cleanup`. */
export interface TestEnvironment {
  config: Config;
  db: Kysely<Database>;
  cleanup(): Promise<void>;
}

/** Creates a migrated database and a queue prefix for one test file; `cleanup` drops both. */
export async function createTestEnvironment(overrides: Record<string, string> = {}): Promise<TestEnvironment> {
  const suffix = randomBytes(4).toString('hex');
  const name = `dossier_sync_test_${suffix}`;
  const admin = createDatabase(adminDatabaseUrl(), { maxConnections: 1 });
  // The run's migrated template (test/support/migrated-template.ts) when there is one: a copy is the same schema,
  // made in a fraction of the time a migration takes. A config without that global setup migrates here.
  const template = inject('migratedTemplate');
  if (template) await sql`CREATE DATABASE ${sql.id(name)} TEMPLATE ${sql.id(template)}`.execute(admin);
  else await sql`CREATE DATABASE ${sql.id(name)}`.execute(admin);
  const config = loadConfig({
    DATABASE_URL: urlForDatabase(name),
    REDIS_URL: redisUrl,
    QUEUE_PREFIX: `test-${suffix}`,
    HTTP_PORT: '0',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    SHUTDOWN_TIMEOUT_MS: '20000',
    ...overrides,
  });
  const db = createDatabase(config.DATABASE_URL, { maxConnections: 4 });
  if (!template) await migrateToLatest(db);
  return {
    config,
    db,
    async cleanup() {
      await db.destroy();
      await sql`DROP DATABASE IF EXISTS ${sql.id(name)} WITH (FORCE)`.execute(admin);
      await admin.destroy();
      await deleteKeys(config.REDIS_URL, config.QUEUE_PREFIX);
    },
  };
}

/** Removes every Redis key under a prefix. */
export async function deleteKeys(url: string, prefix: string): Promise<void> {
  // A Redis Cluster here is a test's own (OwnRedisCluster), stopped with its keys by that test.
  if (parseClusterUrl(url)) return;
  const redis = new Redis(url, { maxRetriesPerRequest: 1 });
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

/** Waits until `condition` holds, checking every `everyMs`; fails with `message` after `timeoutMs`. */
export async function waitFor(
  condition: () => Promise<boolean> | boolean,
  message: string,
  timeoutMs = 90_000,
  everyMs = 250,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await condition()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting: ${message}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}
