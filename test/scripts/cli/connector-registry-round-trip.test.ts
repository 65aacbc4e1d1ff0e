import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { markConnectorError } from '../../../db/queries/connectors.js';
import { createLogger } from '../../../workers/logger.js';
import { createRedis, type RedisConnection } from '../../../workers/redis.js';
import { ConnectorScheduler } from '../../../workers/scheduler/connector-scheduler.js';
import { runFleet } from '../../support/fleet-process.js';
import { createTestEnvironment, type TestEnvironment } from '../../support/test-environment.js';

// add → list → show → pause → resume → remove → add again, through the real `fleet` command; the scheduler
// (refreshed by hand here, every 5 s in a fleet) follows the table.

let env: TestEnvironment;
let redis: RedisConnection;
let scheduler: ConnectorScheduler;
let dir: string;
let cli: Record<string, string>;

const definition = {
  id: 'sim-01',
  description: 'Hà Nội one-stop-shop (simulator)',
  province: { code: '01' },
  schedule: { pollIntervalSeconds: 30 },
  plugin: { name: 'national-rest', config: { baseUrl: 'http://127.0.0.1:9090', pageSize: 100 } },
};
const yaml = `# Hà Nội, through the simulator
id: sim-01
description: Hà Nội one-stop-shop (simulator)
province:
  code: "01"
schedule:
  pollIntervalSeconds: 30
plugin:
  name: national-rest
  config:
    baseUrl: http://127.0.0.1:9090
    pageSize: 100
`;

const fleet = (...args: string[]) => runFleet(args, cli);
/** The connectors with a poll schedule, once the scheduler has caught up with the table. */
const scheduled = async () => {
  await scheduler.refresh();
  return (await scheduler.queue.getJobSchedulers()).map((job) => job.key);
};
const state = async () =>
  (await env.db.selectFrom('connectors').select('state').where('id', '=', 'sim-01').executeTakeFirstOrThrow()).state;

beforeAll(async () => {
  env = await createTestEnvironment();
  cli = { DATABASE_URL: env.config.DATABASE_URL, LOG_LEVEL: 'silent' };
  dir = await mkdtemp(join(tmpdir(), 'connector-registry-'));
  await writeFile(join(dir, 'sim-01.yaml'), yaml);
  redis = createRedis(env.config.REDIS_URL);
  scheduler = new ConnectorScheduler(env.db, redis, createLogger('silent'), { prefix: env.config.QUEUE_PREFIX });
});
afterAll(async () => {
  await scheduler?.close();
  redis?.disconnect();
  await rm(dir, { recursive: true, force: true });
  await env?.cleanup();
});

it('adds a connector from a definition file: stored active, with its settings and the definition as submitted', async () => {
  const { code, output } = await fleet('connector', 'add', '--file', join(dir, 'sim-01.yaml'));
  expect(output).toMatch(/^added connector sim-01 \(national-rest, province 01\); active, polled every 30 s/);
  expect(code).toBe(0);
  const row = await env.db.selectFrom('connectors').selectAll().where('id', '=', 'sim-01').executeTakeFirstOrThrow();
  expect(row).toMatchObject({
    province_code: '01',
    code_set: '2025',
    kind: 'national-rest',
    state: 'active',
    poll_interval_ms: 30_000,
    description: 'Hà Nội one-stop-shop (simulator)',
    definition,
  });
  // The kind's configuration with its defaults, as the poller reads it.
  expect(row.config).toMatchObject({
    baseUrl: 'http://127.0.0.1:9090',
    pageSize: 100,
    lookbackSeconds: 120,
    timeoutMs: 10_000,
    rateLimit: { requestsPerSecond: 5 },
    breaker: { resetTimeoutSeconds: 30 },
    retry: { maxAttempts: 3 },
  });
  expect(await scheduled()).toEqual(['sim-01']);
});

it('lists it (state, breaker, last success, last error, cursor) and shows its definition as YAML with state and cursor', async () => {
  await env.db
    .insertInto('sync_cursors')
    .values({
      connector_id: 'sim-01',
      position: JSON.stringify({ updatedSince: '20260101080000', afterCode: '01.2026.000042' }),
      records_committed: 42,
    })
    .execute();
  await markConnectorError(
    env.db,
    'sim-01',
    'connector sim-01: GET /api/dossiers: the province system answered HTTP 503; the province system failed and stayed down for a long while',
  );
  const [list, show] = await Promise.all([fleet('connector', 'list'), fleet('connector', 'show', 'sim-01')]);

  expect(list.code).toBe(0);
  const [header, line, ...rest] = list.output.trimEnd().split('\n');
  expect(rest).toEqual([]);
  expect(header!.split(/\s{2,}/)).toEqual([
    'ID',
    'PROVINCE',
    'KIND',
    'STATE',
    'BREAKER',
    'LAST SUCCESS',
    'LAST ERROR',
    'CURSOR',
  ]);
  expect(line).toMatch(
    /^sim-01 +01 +national-rest +active +- +- +\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}Z connector sim-01: GET \/api\/dossiers: the province/,
  );
  // The last error is cut short; the cursor is compact JSON.
  expect(line).not.toContain('stayed down');
  expect(line).toContain('{"afterCode":"01.2026.000042","updatedSince":"20260101080000"}');

  expect(show.code).toBe(0);
  expect(show.output).toMatch(/^# connector sim-01 \(national-rest, province 01, code set 2025\): active$/m);
  // The cursor's counter is labelled for what it is (records read, re-reads counted again); what is stored is counted
  // in dossiers.
  expect(show.output).toMatch(
    /^# cursor: \{"afterCode":"01\.2026\.000042","updatedSince":"20260101080000"\} \(moved \d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}Z, over 42 records read in the pages that moved it, re-reads counted again\)$/m,
  );
  expect(show.output).toMatch(/^# stored: 0 dossiers \(fleet connector status sim-01: where its sync stands\)$/m);
  expect(show.output).toMatch(/^# last success: -; last error: .*HTTP 503/m);
  // The whole output is a definition file again: fleet connector update --file takes it back.
  expect(parseYaml(show.output)).toEqual(definition);
  expect(show.output.indexOf('id: sim-01')).toBeLessThan(show.output.indexOf('province:'));
});

it('pauses and resumes it: unscheduled, then scheduled again', async () => {
  const paused = await fleet('connector', 'pause', 'sim-01');
  expect(paused).toMatchObject({ code: 0 });
  expect(paused.output).toMatch(/^paused connector sim-01/);
  expect(await state()).toBe('paused');
  expect(await scheduled()).toEqual([]);

  const resumed = await fleet('connector', 'resume', 'sim-01');
  expect(resumed).toMatchObject({ code: 0 });
  expect(resumed.output).toMatch(/^resumed connector sim-01/);
  expect(await state()).toBe('active');
  expect(await scheduled()).toEqual(['sim-01']);
});

it('removes it: no longer listed nor scheduled, its cursor kept; add registers it again', async () => {
  const removed = await fleet('connector', 'remove', 'sim-01');
  expect(removed).toMatchObject({ code: 0 });
  expect(removed.output).toMatch(/dossiers, cursor and dead letters are kept/);
  expect(await state()).toBe('removed');
  expect(await scheduled()).toEqual([]);
  expect(
    await env.db
      .selectFrom('sync_cursors')
      .select('records_committed')
      .where('connector_id', '=', 'sim-01')
      .executeTakeFirst(),
  ).toEqual({ records_committed: '42' });

  // Listed only with --all (the admin API test covers the default list leaving it out).
  const all = await fleet('connector', 'list', '--all');
  expect(all.output).toMatch(/^sim-01 +01 +national-rest +removed /m);

  const added = await fleet('connector', 'add', '--file', join(dir, 'sim-01.yaml'));
  expect(added).toMatchObject({ code: 0 });
  expect(added.output).toMatch(
    /added connector sim-01 \(national-rest, province 01\) again: it was removed, and its cursor and data were kept/,
  );
  expect(await state()).toBe('active');
  expect(await scheduled()).toEqual(['sim-01']);
  expect(
    await env.db
      .selectFrom('sync_cursors')
      .select('records_committed')
      .where('connector_id', '=', 'sim-01')
      .executeTakeFirst(),
  ).toEqual({ records_committed: '42' });
});
