import type { RedisConnection } from '../redis.js';
import { Migrator, sql, type Kysely } from 'kysely';
import { migrationTables } from '../../db/migrate.js';
import { migrations } from '../../db/migrations/index.js';
import type { Database } from '../../db/schema.js';
import type { ReadinessCheck } from './http-server.js';
import { ReadinessFailure } from './readiness-failure.js';

/**
 * The checks of `/health/ready`: Postgres answers `SELECT 1`, Redis answers `PING` on the process's control
 * connection, and every migration the code lists is applied. A Redis connection that is not up fails at once:
 * its commands would wait for the reconnection.
 */
export function dependencyChecks(db: Kysely<Database>, redis: RedisConnection): ReadinessCheck[] {
  const migrator = new Migrator({ db, provider: { getMigrations: async () => migrations }, ...migrationTables });
  return [
    {
      name: 'postgres',
      code: 'postgres_unreachable',
      reason: 'Postgres did not answer SELECT 1',
      check: async () => void (await sql`SELECT 1`.execute(db)),
    },
    {
      name: 'redis',
      code: 'redis_unreachable',
      reason: 'Redis did not answer PING',
      check: async () => {
        if (redis.status !== 'ready') throw new Error(`the Redis connection is ${redis.status}`);
        await redis.ping();
      },
    },
    {
      // A process newer than its schema would fail on the first query of a new column: it must not get traffic
      // until `fleet migrate` has run. Applied migrations the code does not know (a rolled-back image) are fine.
      name: 'migrations',
      code: 'migrations_pending',
      reason: 'a migration of this version is not applied; run fleet migrate',
      check: async () => {
        const known = await migrator.getMigrations().catch((error: unknown) => {
          throw new ReadinessFailure('postgres_unreachable', 'Postgres did not answer the migrations query', {
            cause: error,
          });
        });
        const pending = known.filter((migration) => migration.executedAt === undefined);
        if (pending.length > 0)
          throw new Error(`migrations not applied: ${pending.map((migration) => migration.name).join(', ')}`);
      },
    },
  ];
}
