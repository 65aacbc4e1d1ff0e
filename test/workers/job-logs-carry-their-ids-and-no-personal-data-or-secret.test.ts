import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ProvinceSimulator } from '../../scripts/tools/simulator/province-simulator.js';
import { registerSimulatorConnector } from '../support/connectors.js';
import { runFleet, spawnFleet, type FleetProcess } from '../support/fleet-process.js';
import { baseTime, rangeFrom, rangeTo } from '../support/reconcile.js';
import { createTestEnvironment, waitFor, type TestEnvironment } from '../support/test-environment.js';
import {
  deliver,
  nationalUpdate,
  registerWebhookConnector,
  signed,
  testSecretsKey,
  type Answer,
} from './webhooks/webhook-client.js';

// The real output of real fleet processes at debug level — `fleet start` with every role, `fleet backfill` and
// `fleet reconcile` — fed hostile inputs: a province simulator serving applicants' data behind an API key, a
// province system answering errors and odd shapes full of personal data, webhook deliveries with personal data in
// strings, nested objects, lists, keys, a non-object body, the URL path and query and the webhook-id, and secrets
// in the headers; the connection URLs carry passwords. Every line is parsed: none holds a planted personal value or
// secret, and each line of a job's work (poll run, write batch, webhook delivery, backfill and reconcile run) names
// its stage, province, connector and job. (personal-data-never-leaves-the-mapping looks at the other places
// personal data could go — Redis, dead letters, the CLI's answers; this test at the log lines and their ids.)

const person = {
  name: 'Phạm Thị Sentinloghoa',
  idNumber: '079199444222',
  phone: '0987444555',
  address: '12 ngõ Sentinlogaddr, Ba Đình, Hà Nội',
  email: 'sentinlog.mail@example.vn',
};
const secrets = {
  vendorApiKey: 'SentinelVendorApiKey7f3a9c',
  postgresPassword: 'SentinelPgPassword41d2',
  redisPassword: 'SentinelRedisPassword93be',
  bearer: 'SentinelBearerToken5c1e',
  cookie: 'SentinelCookie2b7d',
  queryToken: 'SentinelQueryToken8a4f',
  secretsKey: testSecretsKey(),
};
const jobStages = ['poll', 'write', 'webhook', 'backfill', 'reconcile'] as const;

interface LogLine {
  level: number;
  msg: string;
  stage?: string;
  province?: string;
  connector?: string;
  job?: string;
  [key: string]: unknown;
}

let env: TestEnvironment;
let simulator: ProvinceSimulator;
let simulatorUrl = '';
let vendor: Server;
let vendorRequests = 0;
let fleet: FleetProcess | null = null;
let webhookSecret = '';
const answers: Answer[] = [];
/** Everything each process printed, by process. */
const outputs: Record<string, string> = {};
/** The simulator's applicants' values, read from its API as the poller reads them. */
const applicantValues: string[] = [];

/** What a hostile province system answers: a 500 with personal data, or records in odd shapes full of it. */
function hostileAnswer(): { status: number; body: string; headers: Record<string, string> } {
  vendorRequests += 1;
  if (vendorRequests % 2 === 1)
    return {
      status: 500,
      headers: { 'content-type': 'application/json', 'x-debug-applicant': encodeURIComponent(person.name) },
      body: JSON.stringify({ error: `không tìm thấy ${person.name}, CCCD ${person.idNumber}`, ChuHoSo: person.name }),
    };
  return {
    status: 200,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      items: [
        `${person.name} ${person.phone}`,
        [person.idNumber, { DiaChi: person.address }],
        nationalUpdate('LOG-P1', { TrangThaiHoSo: '99', [person.phone]: person.email, thongTin: [person.name] }),
        nationalUpdate('LOG-P2', { ChuHoSo: { ten: person.name, giayTo: [person.idNumber] } }),
      ],
      hasMore: false,
    }),
  };
}

beforeAll(async () => {
  env = await createTestEnvironment({ SECRETS_KEY: secrets.secretsKey });
  simulator = new ProvinceSimulator({
    provinces: ['01'],
    dossiersPerProvince: 150,
    seed: 23,
    baseTime,
    tickMs: 200,
    changesPerTick: 2,
    apiKey: secrets.vendorApiKey,
  });
  simulatorUrl = await simulator.start();
  await registerSimulatorConnector(env.db, simulatorUrl, '01', {
    pollIntervalMs: 1000,
    config: { apiKey: { env: 'SIM_API_KEY' } },
  });
  vendor = createServer((_request, response) => {
    const answer = hostileAnswer();
    response.writeHead(answer.status, answer.headers).end(answer.body);
  });
  await new Promise<void>((resolve) => vendor.listen(0, '127.0.0.1', resolve));
  const vendorPort = (vendor.address() as AddressInfo).port;
  await registerSimulatorConnector(env.db, `http://127.0.0.1:${vendorPort}`, '48', {
    id: 'hostile-48',
    pollIntervalMs: 1000,
    config: { retry: { maxAttempts: 1 } },
  });
  webhookSecret = await registerWebhookConnector(env.db, secrets.secretsKey, 'push-79', '79');

  // The applicants the simulator serves: none of them may come out of the fleet.
  const page = await fetch(`${simulatorUrl}/api/dossiers?province=01&limit=1000`, {
    headers: { 'X-Api-Key': secrets.vendorApiKey },
  });
  const served = (await page.json()) as { items: Record<string, string>[] };
  for (const item of served.items)
    applicantValues.push(item.ChuHoSo!, item.SoGiayToChuHoSo!, item.SoDienThoai!, item.DiaChi!);

  const databaseUrl = new URL(env.config.DATABASE_URL);
  databaseUrl.password = secrets.postgresPassword;
  const redisUrl = new URL(env.config.REDIS_URL);
  redisUrl.username = 'default';
  redisUrl.password = secrets.redisPassword;
  const settings = {
    DATABASE_URL: databaseUrl.toString(),
    REDIS_URL: redisUrl.toString(),
    QUEUE_PREFIX: env.config.QUEUE_PREFIX,
    SECRETS_KEY: secrets.secretsKey,
    SIM_API_KEY: secrets.vendorApiKey,
    HTTP_PORT: '0',
    LOG_LEVEL: 'debug',
    SHUTDOWN_TIMEOUT_MS: '20000',
  };
  fleet = spawnFleet(['start', '--role', 'gateway,poller,writer,scheduler,reconciler'], settings);
  let url = '';
  await waitFor(
    () => {
      url = /"url":"(http:\/\/[^"]+)"/.exec(fleet!.output())?.[1] ?? '';
      return url !== '';
    },
    `the fleet started: ${fleet.output().slice(-2000)}`,
  );

  const count = async (province: string) =>
    Number(
      (
        await env.db
          .selectFrom('dossiers')
          .select((eb) => eb.fn.countAll<string>().as('n'))
          .where('province_code', '=', province)
          .executeTakeFirstOrThrow()
      ).n,
    );
  await waitFor(async () => (await count('01')) >= 150, 'the simulated province polled and written', 180_000, 500);

  const hostileHeaders = {
    authorization: `Bearer ${secrets.bearer}`,
    'x-api-key': secrets.vendorApiKey,
    cookie: `session=${secrets.cookie}`,
    'x-applicant': encodeURIComponent(person.name),
  };
  const send = async (path: string, body: unknown, options: { id?: string; secret?: string } = {}) => {
    const delivery = signed(options.secret ?? webhookSecret, body, options.id ? { id: options.id } : {});
    delivery.headers = { ...delivery.headers, ...hostileHeaders };
    answers.push(await deliver(url, path, delivery));
  };
  // Taken: personal data in every shape, in the updates, the query string and the webhook-id.
  await send(
    `push-79?HoTen=${encodeURIComponent(person.name)}&token=${secrets.queryToken}`,
    [
      nationalUpdate('LOG-W1', {
        MaTinh: '79',
        ChuHoSo: person.name,
        SoDienThoai: person.phone,
        GhiChu: { nguoiLienHe: [person.name, { dienThoai: person.phone }] },
        [person.email]: person.address,
      }),
      nationalUpdate('LOG-W2', { MaTinh: '79', TrangThaiHoSo: '99', HoVaTen: person.name }),
      `${person.name}, ${person.idNumber}`,
      [person.phone, { DiaChi: person.address }],
    ],
    { id: `msg-${person.phone}-${person.idNumber}` },
  );
  // Refused: a body that is not an object or a list, a signature made with another secret, an unknown connector
  // whose id is a phone number, and a connector id that is no id at all.
  await send('push-79', JSON.stringify(person.name));
  await send('push-79', [nationalUpdate('LOG-W3', { ChuHoSo: person.name })], {
    secret: `whsec_${Buffer.alloc(32, 9).toString('base64')}`,
  });
  await send(person.phone, [nationalUpdate('LOG-W4', { ChuHoSo: person.name })]);
  await send(encodeURIComponent(person.name), { ChuHoSo: person.name });
  await waitFor(async () => (await count('79')) >= 1, 'the pushed update written', 120_000, 500);

  // A backfill and a reconcile of the simulated province, each a process of its own.
  const range = ['--from', rangeFrom.toISOString(), '--to', rangeTo.toISOString()];
  const backfill = await runFleet(['backfill', '--connector', 'sim-01', ...range], settings);
  outputs['fleet backfill'] = backfill.output;
  expect(backfill.code, backfill.output).toBe(0);
  const reconcile = await runFleet(['reconcile', '--connector', 'sim-01', ...range], settings);
  outputs['fleet reconcile'] = reconcile.output;
  expect(reconcile.code, reconcile.output).toBe(0);
  // The hostile province system gave both its answers (an error, then odd shapes) meanwhile; its breaker may
  // then be open, so no more than that is waited for.
  await waitFor(() => vendorRequests >= 2, 'the hostile province system polled twice', 60_000, 250);

  fleet.child.kill('SIGTERM');
  await fleet.exited;
  outputs['fleet start'] = fleet.output();
}, 600_000);

afterAll(async () => {
  if (fleet && fleet.child.exitCode === null) fleet.child.kill('SIGKILL');
  await new Promise((resolve) => vendor?.close(resolve));
  await simulator?.stop();
  await env?.cleanup();
});

/** Every JSON line each process printed, with where it came from. */
function logLines(): (LogLine & { from: string })[] {
  return Object.entries(outputs).flatMap(([from, text]) =>
    text
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => ({ ...(JSON.parse(line) as LogLine), from })),
  );
}

it('logged at debug, every kind of job, and answered the deliveries as the API says', () => {
  expect(answers.map((answer) => answer.status)).toEqual([202, 400, 401, 404, 404]);
  const lines = logLines();
  expect(lines.some((line) => line.level === 20)).toBe(true);
  for (const stage of jobStages) expect(lines.filter((line) => line.stage === stage).length, stage).toBeGreaterThan(0);
  expect(lines.map((line) => line.msg)).toEqual(
    expect.arrayContaining([
      'poll run committed',
      'poll run failed; the next run resumes from the committed cursor',
      'ingest batch committed',
      'webhook delivery accepted',
      'webhook delivery refused',
      'backfill started',
      'reconcile started',
    ]),
  );
});

it('puts no personal value and no secret in any line, in any form', () => {
  const planted = [
    ...Object.values(person),
    person.name.normalize('NFD'),
    encodeURIComponent(person.name),
    'Sentinloghoa',
    'Sentinlogaddr',
    'sentinlog.mail',
    ...Object.values(secrets),
    webhookSecret,
    webhookSecret.replace(/^whsec_/, ''),
    ...applicantValues,
  ];
  expect(applicantValues.length).toBeGreaterThanOrEqual(4 * 150);
  const leaks: string[] = [];
  for (const [from, text] of Object.entries(outputs))
    for (const value of planted) if (text.includes(value)) leaks.push(`${from}: ${JSON.stringify(value)}`);
  expect(leaks).toEqual([]);
});

it("names the stage, province, connector and job on every line of a job's work", () => {
  const lines = logLines();
  const jobMessage = /^(poll run|poll job|ingest batch|could not settle a batch|webhook delivery|backfill|reconcile)/;
  const missing = lines
    .filter((line) => jobMessage.test(line.msg) || line.stage !== undefined)
    .filter(
      (line) =>
        !jobStages.includes(line.stage as (typeof jobStages)[number]) ||
        [line.province, line.connector, line.job].some((id) => typeof id !== 'string' || id === ''),
    )
    .map((line) => `${line.from}: ${JSON.stringify(line)}`);
  expect(missing).toEqual([]);
  const ids = (stage: string) =>
    lines.filter((line) => line.stage === stage).map((line) => `${line.province}/${line.connector}`);
  expect(ids('poll')).toEqual(expect.arrayContaining(['01/sim-01', '48/hostile-48']));
  expect(ids('write')).toEqual(expect.arrayContaining(['01/sim-01', '79/push-79']));
  expect(new Set(ids('backfill'))).toEqual(new Set(['01/sim-01']));
  expect(new Set(ids('reconcile'))).toEqual(new Set(['01/sim-01']));
  // A delivery's lines name the connector once it is found registered; an id that is not is never logged.
  expect(new Set(ids('webhook'))).toEqual(new Set(['79/push-79', '(unknown)/(unknown)']));
  // A job id is the job's own: one per poll job, batch, delivery or run, not one for the process.
  expect(new Set(lines.filter((line) => line.stage === 'webhook').map((line) => line.job)).size).toBe(answers.length);
  const runs = lines.filter((line) => line.stage === 'backfill' || line.stage === 'reconcile');
  expect(runs.every((line) => /^\d+$/.test(line.job!))).toBe(true);
});
