import { sql, type Kysely } from 'kysely';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { loadConfig } from '../../../config/env.js';
import { createDatabase } from '../../../db/database.js';
import type { Database } from '../../../db/schema.js';
import { migrateCommand } from '../../../scripts/cli/commands/migrate.js';
import { spawnFleet, type FleetProcess } from '../../support/fleet-process.js';
import { OwnPostgres, OwnRedis, sparePort } from '../../support/own-services.js';
import { waitFor } from '../../support/test-environment.js';

// Kubernetes restarts a process whose liveness fails and stops sending it traffic while its readiness fails: a
// dependency outage or a schema behind the code must fail readiness only, by a stable code per check, and never
// liveness (a restart cures neither). A real fleet process, on a Redis and a Postgres of the test's own, which the
// test stops under it.

let redis: OwnRedis;
let postgres: OwnPostgres;
let db: Kysely<Database>;
let fleet: FleetProcess;
let port: number;

interface Readiness {
  status: string;
  checks: { name: string; ok: boolean; code: string; reason: string }[];
}

async function ready(): Promise<{ status: number; text: string; body: Readiness }> {
  const response = await fetch(`http://127.0.0.1:${port}/health/ready`);
  const text = await response.text();
  return { status: response.status, text, body: JSON.parse(text) as Readiness };
}
const codes = async () => Object.fromEntries((await ready()).body.checks.map((check) => [check.name, check.code]));
const live = async () => (await fetch(`http://127.0.0.1:${port}/health/live`)).status;

beforeAll(async () => {
  [redis, postgres] = await Promise.all([OwnRedis.start(), OwnPostgres.start()]);
  const config = { DATABASE_URL: postgres.url, REDIS_URL: redis.url, QUEUE_PREFIX: 'health', HTTP_PORT: '0' };
  await migrateCommand(loadConfig(config));
  db = createDatabase(postgres.url, { maxConnections: 1 });
  port = await sparePort();
  fleet = spawnFleet(['start', '--role', 'writer'], { ...config, HTTP_PORT: String(port), LOG_LEVEL: 'warn' });
  await waitFor(
    async () => (await fetch(`http://127.0.0.1:${port}/health/ready`).catch(() => null))?.status === 200,
    'the fleet process ready',
    60_000,
  );
}, 120_000);
afterAll(async () => {
  fleet?.killGroup('SIGKILL');
  await fleet?.exited;
  await db?.destroy().catch(() => {});
  await redis?.stop();
  postgres?.stop();
});

it('answers 200 with every check ok, and both paths are in the OpenAPI document', async () => {
  expect(await ready()).toMatchObject({
    status: 200,
    body: {
      status: 'ready',
      checks: [
        { name: 'postgres', ok: true, code: 'ok' },
        { name: 'redis', ok: true, code: 'ok' },
        { name: 'migrations', ok: true, code: 'ok' },
      ],
    },
  });
  expect(await live()).toBe(200);
  const document = (await (await fetch(`http://127.0.0.1:${port}/v1/openapi.json`)).json()) as {
    paths: Record<string, { get: { responses: Record<string, unknown> } }>;
  };
  expect(Object.keys(document.paths['/health/live']!.get.responses)).toEqual(['200']);
  expect(Object.keys(document.paths['/health/ready']!.get.responses).sort()).toEqual(['200', '503']);
});

it('is 503 migrations_pending while a migration of the code is not applied, and ready again once it is', async () => {
  const { rows } = await sql<{ name: string; timestamp: string }>`
    SELECT name, timestamp FROM schema_migrations ORDER BY name DESC LIMIT 1
  `.execute(db);
  const last = rows[0]!;
  await sql`DELETE FROM schema_migrations WHERE name = ${last.name}`.execute(db);
  const answer = await ready();
  expect(answer.status).toBe(503);
  expect(answer.body.status).toBe('not_ready');
  expect(await codes()).toEqual({ postgres: 'ok', redis: 'ok', migrations: 'migrations_pending' });
  expect(answer.text).not.toContain(last.name); // which one goes to the log
  expect(await live()).toBe(200);

  await sql`INSERT INTO schema_migrations (name, timestamp) VALUES (${last.name}, ${last.timestamp})`.execute(db);
  expect((await ready()).status).toBe(200);
});

it('is 503 redis_unreachable while Redis is down, live stays 200, and ready again when it is back', async () => {
  await redis.stop();
  await waitFor(async () => (await codes()).redis === 'redis_unreachable', 'readiness to see Redis down', 30_000);
  const answer = await ready();
  expect(answer.status).toBe(503);
  expect(await codes()).toMatchObject({ postgres: 'ok', redis: 'redis_unreachable' });
  expect(answer.text).not.toMatch(/ECONNREFUSED|127\.0\.0\.1|connecting|reconnecting/);
  expect(await live()).toBe(200);

  await redis.restartEmpty();
  await waitFor(async () => (await ready()).status === 200, 'ready again with Redis back', 60_000);
});

it('is 503 postgres_unreachable while Postgres is down, and live stays 200', async () => {
  postgres.stop();
  await waitFor(
    async () => (await codes()).postgres === 'postgres_unreachable',
    'readiness to see Postgres down',
    30_000,
  );
  const answer = await ready();
  expect(answer.status).toBe(503);
  expect(answer.body.checks.find((check) => check.name === 'redis')).toMatchObject({ ok: true });
  expect(answer.text).not.toMatch(/ECONNREFUSED|127\.0\.0\.1|dossier_sync|postgres:\/\//);
  expect(await live()).toBe(200);
});
