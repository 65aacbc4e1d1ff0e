import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Queue } from 'bullmq';
import { sql } from 'kysely';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ProvinceSimulator } from '../../../scripts/tools/simulator/province-simulator.js';
import { startFleet, roles, type Fleet } from '../../../workers/fleet.js';
import { createLogger } from '../../../workers/logger.js';
import { queueNames } from '../../../workers/queue/queues.js';
import { createRedis } from '../../../workers/redis.js';
import { runFleet } from '../../support/fleet-process.js';
import { createTestEnvironment, waitFor, type TestEnvironment } from '../../support/test-environment.js';
import { deliver, signed, testSecretsKey } from './webhook-client.js';

// A province system that only pushes is registered with a definition of `webhook`, `fields` and `statuses` alone
// (the push-only example in connectors/examples/), operated with the same verbs as any other, never polled by
// a running scheduler and poller, and its signed pushes end in Postgres. `check --sample` maps a pushed body.

const example = fileURLToPath(new URL('../../../connectors/examples/danang-push.yaml', import.meta.url));
const exampleSample = fileURLToPath(new URL('../../../connectors/examples/danang-push.sample.json', import.meta.url));
const secretsKey = testSecretsKey();
let env: TestEnvironment;
let simulator: ProvinceSimulator;
let fleet: Fleet;
let dir: string;
let cli: Record<string, string>;
let secret: string;

const fleetCli = (...args: string[]) => runFleet(args, cli);
const dossier = (code: string) =>
  env.db.selectFrom('dossiers').selectAll().where('dossier_code', '=', code).executeTakeFirst();
const connectorRow = (id: string) =>
  env.db.selectFrom('connectors').selectAll().where('id', '=', id).executeTakeFirstOrThrow();

beforeAll(async () => {
  env = await createTestEnvironment({ SECRETS_KEY: secretsKey });
  cli = { DATABASE_URL: env.config.DATABASE_URL, SECRETS_KEY: secretsKey, LOG_LEVEL: 'silent' };
  dir = await mkdtemp(join(tmpdir(), 'push-only-'));
  // A polled connector beside it: proof that the scheduler and poller are at work while the push-only one is left
  // alone.
  simulator = new ProvinceSimulator({ provinces: ['01'], dossiersPerProvince: 50, paused: true, seed: 3 });
  const simulatorUrl = await simulator.start();
  await writeFile(
    join(dir, 'sim-01.yaml'),
    `id: sim-01\nprovince: {code: "01"}\nschedule: {pollIntervalSeconds: 1}\nplugin: {name: national-rest, config: {baseUrl: "${simulatorUrl}"}}\n`,
  );
  expect(await fleetCli('connector', 'add', '--file', join(dir, 'sim-01.yaml'))).toMatchObject({ code: 0 });
});
afterAll(async () => {
  await fleet?.stop();
  await simulator?.stop();
  await rm(dir, { recursive: true, force: true });
  await env?.cleanup();
});

it('registers a definition with only webhook, fields and statuses', async () => {
  const added = await fleetCli('connector', 'add', '--file', example);
  expect(added.output.trim()).toBe(
    'added connector danang-push (declarative, province 48); active, push-only: never polled; it takes signed pushes at POST /v1/webhooks/danang-push once it has a secret (fleet connector rotate-secret danang-push)',
  );
  expect(added.code).toBe(0);
  const row = await connectorRow('danang-push');
  expect(row).toMatchObject({ kind: 'declarative', state: 'active', province_code: '48' });
  expect(Object.keys(row.config as object).sort()).toEqual(['fields', 'statuses', 'webhook']);

  const rotated = await fleetCli('connector', 'rotate-secret', 'danang-push');
  expect(rotated.code).toBe(0);
  secret = rotated.output.trim().split('\n').at(-1)!;
  expect(secret).toMatch(/^whsec_/);
}, 300_000);

it('is never polled by a running scheduler and poller, and records no error for it', async () => {
  fleet = await startFleet(env.config, roles, createLogger('silent'));
  const polledRuns = async () =>
    (await fleet.metrics.pollRuns.get()).values
      .filter((value) => value.labels.connector === 'sim-01')
      .reduce((sum, value) => sum + value.value, 0);
  // The polled connector beside it is polled again and again meanwhile.
  await waitFor(async () => (await polledRuns()) >= 3, 'sim-01 polled three times', 60_000);

  // A poll job for it regardless (one left from before its definition became push-only) is taken and left alone.
  const connection = createRedis(env.config.REDIS_URL);
  const queue = new Queue(queueNames.poll, { connection, prefix: env.config.QUEUE_PREFIX });
  try {
    expect((await queue.getJobSchedulers()).map((scheduler) => scheduler.key)).toEqual(['sim-01']);
    const job = await queue.add('poll', { connectorId: 'danang-push' }, { jobId: 'leftover-danang-push' });
    await waitFor(async () => (await job.getState()) === 'completed', 'the leftover poll job taken', 30_000);
    expect((await queue.getJobSchedulers()).map((scheduler) => scheduler.key)).toEqual(['sim-01']);
  } finally {
    await queue.close();
    connection.disconnect();
  }
  expect(await connectorRow('danang-push')).toMatchObject({
    last_success_at: null,
    last_error: null,
    last_error_at: null,
    breaker_state: null,
  });
  expect(
    await env.db.selectFrom('sync_cursors').select('connector_id').where('connector_id', '=', 'danang-push').execute(),
  ).toEqual([]);
  expect(
    (await fleet.metrics.pollRuns.get()).values.filter((value) => value.labels.connector === 'danang-push'),
  ).toEqual([]);
  expect((await connectorRow('sim-01')).last_success_at).not.toBeNull();
});

it('takes a signed push in its own dialect and stores it, the former province under its successor', async () => {
  const body = await readFile(exampleSample, 'utf8');
  const answer = await deliver(fleet.url, 'danang-push', signed(secret, body));
  expect(answer).toMatchObject({ status: 202, body: { accepted: 2, rejected: 0 } });
  await waitFor(
    async () =>
      (await dossier('000.00.12.H48-261121-0002')) !== undefined &&
      (await dossier('000.00.15.H49-261120-0001')) !== undefined,
    'both pushed dossiers stored',
    20_000,
    20,
  );
  const quangNam = (await dossier('000.00.15.H49-261120-0001'))!;
  expect(quangNam).toMatchObject({
    province_code: '48',
    source_province_code: '49',
    source_code_set: '2008',
    procedure_code: '1.004227',
    sector_code: 'G09-XD',
    agency_code: '000.00.15.H49',
    channel: 2,
    status: 4,
    source_status: 'Đang xử lý',
    source_version: '7',
    connector_id: 'danang-push',
  });
  expect(new Date(quangNam.due_at!).toISOString()).toBe('2026-12-04T10:00:00.000Z');
  expect(new Date(quangNam.source_updated_at).toISOString()).toBe('2026-11-27T01:00:00.000Z');
  expect(await dossier('000.00.12.H48-261121-0002')).toMatchObject({
    province_code: '48',
    source_code_set: '2025',
    status: 10,
    channel: 1,
  });
});

it('is listed and shown without a cursor or poll schedule, and paused and resumed like any other', async () => {
  const listed = await fleetCli('connector', 'list');
  expect(listed.code).toBe(0);
  expect(listed.output).toMatch(/^danang-push +48 +declarative +active +- +- +- +push-only: not polled$/m);
  expect(listed.output).toMatch(/^sim-01 +01 +national-rest +active +\S+ +\d{4}-\d{2}-\d{2} [\d:]+Z +- +\{/m);

  const shown = await fleetCli('connector', 'show', 'danang-push');
  expect(shown.code).toBe(0);
  expect(shown.output).toContain(
    '# push-only: never polled (no poll schedule, no cursor); it takes signed pushes at POST /v1/webhooks/danang-push',
  );
  expect(shown.output).not.toMatch(/^# cursor:/m);
  expect(shown.output).toMatch(/^webhook:\n {2}recordsPath: duLieu$/m);
  expect(shown.output).not.toMatch(/^http:/m);

  const paused = await fleetCli('connector', 'pause', 'danang-push');
  expect(paused).toMatchObject({ code: 0 });
  expect(paused.output.trim()).toBe(
    'paused connector danang-push: its pushes are refused (409 connector_paused) within 5 s, until it is resumed; its data are kept',
  );
  const pushOf = (code: string) => ({
    duLieu: {
      soHoSo: code,
      maTinh: '48',
      trangThai: 'Đã trả kết quả',
      thoiDiemCapNhat: '26/11/2026 09:00:00',
      phienBan: 4,
    },
  });
  // A gateway learns of the pause within its 5 s cache: probe with a throwaway dossier until it refuses.
  await waitFor(
    async () => (await deliver(fleet.url, 'danang-push', signed(secret, pushOf('probe-while-pausing')))).status === 409,
    'pushes refused while paused',
    20_000,
  );
  const update = pushOf('000.00.12.H48-261121-0002');
  const refused = await deliver(fleet.url, 'danang-push', signed(secret, update));
  expect(refused).toMatchObject({ status: 409, body: { code: 'connector_paused' } });
  expect((await dossier('000.00.12.H48-261121-0002'))!.source_version).toBe('3');

  const resumed = await fleetCli('connector', 'resume', 'danang-push');
  expect(resumed).toMatchObject({ code: 0 });
  expect(resumed.output.trim()).toBe('resumed connector danang-push: its pushes are taken again (within 5 s)');
  await waitFor(
    async () => (await deliver(fleet.url, 'danang-push', signed(secret, update))).status === 202,
    'pushes taken again',
    20_000,
  );
  await waitFor(
    async () => (await dossier('000.00.12.H48-261121-0002'))!.source_version === '4',
    'the push after the resume stored',
    20_000,
    20,
  );
  expect(await connectorRow('danang-push')).toMatchObject({ last_error: null, state: 'active' });
}, 300_000);

it('checks a sample body without any network: what would be stored and dead-lettered, exit 1 on a dead letter', async () => {
  const before = await sql<{
    dossiers: string;
    letters: string;
  }>`SELECT (SELECT count(*) FROM dossiers) AS dossiers, (SELECT count(*) FROM dead_letters) AS letters`.execute(
    env.db,
  );
  const sample = JSON.parse(await readFile(exampleSample, 'utf8')) as { duLieu: Record<string, unknown>[] };
  sample.duLieu[1] = { ...sample.duLieu[1], trangThai: 'Đang bay' };
  await writeFile(join(dir, 'half-bad.json'), JSON.stringify(sample));

  await writeFile(join(dir, 'not-json.json'), '{"duLieu": [');
  await writeFile(join(dir, 'elsewhere.json'), JSON.stringify({ data: sample.duLieu }));
  // Every run is its own process; they run side by side.
  const targets = [['danang-push'], ['--file', example]];
  const [runs, withoutSample, notJson, elsewhere] = await Promise.all([
    Promise.all(
      targets.map(async (target) => ({
        clean: await fleetCli('connector', 'check', ...target, '--sample', exampleSample),
        halfBad: await fleetCli('connector', 'check', ...target, '--sample', join(dir, 'half-bad.json')),
        accepted: await fleetCli(
          'connector',
          'check',
          ...target,
          '--sample',
          join(dir, 'half-bad.json'),
          '--accept-dead-letters',
          '50',
        ),
      })),
    ),
    fleetCli('connector', 'check', 'danang-push'),
    fleetCli('connector', 'check', 'danang-push', '--sample', join(dir, 'not-json.json')),
    fleetCli('connector', 'check', 'danang-push', '--sample', join(dir, 'elsewhere.json')),
  ]);
  for (const { clean, halfBad, accepted } of runs) {
    expect(clean.code).toBe(0);
    expect(clean.output).toMatch(
      /^check of connector danang-push \(declarative, province 48\): maps the sample body, writes nothing$/m,
    );
    expect(clean.output).toMatch(/^mapped the sample body: 2 updates$/m);
    expect(clean.output).toMatch(/^2 would be stored, for example:$/m);
    expect(clean.output).toMatch(
      /^ {4}provinceCode +48 +from maTinh "49" \(code set 2008's 49, stored under its successor 48\)$/m,
    );
    expect(clean.output).toMatch(
      /^ {4}sourceUpdatedAt +2026-11-27T08:00:00\+07:00 +from thoiDiemCapNhat "27\/11\/2026 08:00:00"$/m,
    );
    expect(clean.output).toMatch(/^0 would be dead-lettered$/m);
    expect(clean.output).not.toMatch(/Lê Văn Cường|0905000111/);

    expect(halfBad.code).toBe(1);
    expect(halfBad.output).toMatch(/^1 would be stored, for example:$/m);
    expect(halfBad.output).toMatch(/^1 would be dead-lettered:$/m);
    expect(halfBad.output).toMatch(/^ {2}unknown_status: 1$/m);
    expect(halfBad.output).toMatch(
      /^ {4}000\.00\.12\.H48-261121-0002: trangThai: "Đang bay" is not a status this definition maps; add it to statuses\.map$/m,
    );
    expect(halfBad.output).toMatch(
      /^check failed: 1 of 2 records \(50%\) would be dead-lettered, more than the 0% accepted; fix the definition or the records, or accept a known share with --accept-dead-letters 50$/m,
    );
    expect(accepted.code).toBe(0);
  }

  expect(withoutSample.code).toBe(2);
  expect(withoutSample.output.trim()).toBe(
    'fleet connector check: connector danang-push only takes pushes (its definition has no http, request and records), so there is nothing to read; give a body its system pushes with --sample FILE',
  );
  expect(notJson.code).toBe(2);
  expect(notJson.output.trim().split('\n')).toHaveLength(1);
  expect(notJson.output).toMatch(/^fleet connector check: --sample .*not-json\.json: not a JSON body: /);
  expect(elsewhere.code).toBe(1);
  expect(elsewhere.output).toMatch(
    /^the sample body holds no updates where the connector expects them: webhook\.recordsPath "duLieu": expected one update \(a JSON object\) or a list of them, got nothing$/m,
  );

  const after = await sql<{
    dossiers: string;
    letters: string;
  }>`SELECT (SELECT count(*) FROM dossiers) AS dossiers, (SELECT count(*) FROM dead_letters) AS letters`.execute(
    env.db,
  );
  expect(after.rows).toEqual(before.rows);
}, 600_000);
