import type { RedisConnection } from '../redis.js';
import { sql, type Kysely } from 'kysely';
import type { Database } from '../../db/schema.js';
import type { ReadinessCheck } from './http-server.js';

/**
 * The checks of `/readyz`: Postgres answers `SELECT 1`, and Redis answers `PING` on the process's control
 * connection. A Redis connection that is not up fails at once: its commands would wait for the reconnection.
 */
export function dependencyChecks(db: Kysely<Database>, redis: RedisConnection): ReadinessCheck[] {
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
  ];
}
