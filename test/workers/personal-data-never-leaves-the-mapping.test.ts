import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { sql } from 'kysely';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { saveConnector } from '../../db/queries/connectors.js';
import { ConnectorRegistry, definitionFromText } from '../../workers/control-plane/connector-registry.js';
import { cliActor } from '../../workers/control-plane/audit.js';
import { runFleet, spawnFleet, type FleetProcess } from '../support/fleet-process.js';
import { createTestEnvironment, waitFor, type TestEnvironment } from '../support/test-environment.js';
import {
  deliver,
  issueSecret,
  nationalUpdate,
  signed,
  testSecretsKey,
  type Answer,
} from './webhooks/webhook-client.js';

// Applicants' personal data, in records of every shape, pushed and polled through real fleet processes logging
// at debug level: none of it may come out anywhere — the logs, the Redis job data of ingest batches (read before
// a writer takes them), the webhook answers, the dead letters in Postgres, `fleet dlq list|show|replay` and
// `fleet connector check`. What a provincial IT team needs (the mapped fields' values) still does.

const nfd = (text: string) => text.normalize('NFD');
const name = 'Nguyễn Thị Sentinhoa';
const otherName = 'Trần Văn Sentinminh';
const idNumber = '079188777111';
const passport = 'B7771113';
const phone = '0912777333';
const address = '27 phố Sentineladdr, Hoàn Kiếm, Hà Nội';
const email = 'sentinel.mail@example.vn';
const birth = 'ngày 17 tháng 5 Sentinbirth';
/** Every form a sentinel may come out in: as sent (NFC and NFD), as a number, and its distinctive part. */
const sentinels = [
  ...[name, otherName, address, birth, 'Nguyễn Văn An'].flatMap((text) => [text, nfd(text)]),
  idNumber,
  '79188777111',
  passport,
  phone,
  '912777333',
  email,
  '001099012345',
  'Sentinhoa',
  'Sentinminh',
  'Sentineladdr',
  'Sentinbirth',
  'sentinel.mail',
];
/** Personal data under the keys the key list used to miss, and under keys nobody could list. */
const underEveryKey = {
  HoVaTen: name,
  TenCongDan: nfd(otherName),
  SoHoChieu: passport,
  MaDinhDanh: idNumber,
  mobile: phone,
  NguoiXuLy: name,
  DiaChi: address,
  Email: email,
  GhiChu: `${name} ${phone}`,
  x1: idNumber,
  thongTin: { a: email, b: [phone, nfd(name)] },
};
let deep: unknown = { NguoiCapNhat: nfd(otherName), ghiChu: email, c: [phone] };
for (let level = 0; level < 40; level += 1) deep = { lichSu: deep };
let tooDeep: unknown = [address];
for (let level = 0; level < 100; level += 1) tooDeep = level % 2 ? [tooDeep] : { a: tooDeep };

const polledNational: unknown[] = [
  nationalUpdate('PD-G1', underEveryKey),
  nationalUpdate('PD-P1', { ...underEveryKey, TrangThaiHoSo: '99' }),
  nationalUpdate('PD-P2', { NgayHenTra: '31/02/2026', [name]: phone, [email]: { [idNumber]: true } }),
  `${name}, CCCD ${idNumber}, ĐT ${phone}`,
  ['PD-P4', nfd(name), idNumber, phone, address, email, 79188777111],
  [{ MaHoSo: 'PD-P5', HoTen: name, SoDienThoai: phone }],
  nationalUpdate('PD-P6', { TrangThaiHoSo: '0', LichSu: deep, CayThuMuc: tooDeep }),
  JSON.parse(
    JSON.stringify(nationalUpdate('PD-P7', { TrangThaiHoSo: '99' })).replace(
      /}$/,
      `,"__proto__":{"HoTen":"${name}","polluted":true},"constructor":{"prototype":{"SoDienThoai":"${phone}"}}}`,
    ),
  ),
  nationalUpdate('PD-P8', {
    TrangThaiHoSo: '99',
    GhiChu: `${name} `.repeat(20_000),
    DanhSach: Array.from({ length: 20_000 }, () => phone),
  }),
  nationalUpdate('PD-P9', { TrangThaiHoSo: 99, SoDienThoai: 912777333, SoCCCD: 79188777111 }),
];
const mistaken = (code: string, overrides: Record<string, unknown> = {}) => ({
  ma: code,
  TenCongDan: '4',
  cap_nhat: '20261127080000',
  HoVaTen: name,
  ...overrides,
});
const polledMistaken: unknown[] = [
  mistaken('PD-M1', { TenCongDan: name }),
  mistaken('PD-M2', { mobile: phone }),
  mistaken('PD-M3', { SoHoChieu: passport }),
  mistaken('PD-M4', { NgaySinh: birth }),
  mistaken('PD-M5', { TenCongDan: '2' }),
];
// The definition maps personal fields by mistake: the status from the citizen's name, the channel from a phone…
const mistakenDefinition = (vendorUrl: string) => `
id: pd-mistaken
description: a definition that maps personal fields by mistake
province: { code: '01', codeSet: '2025' }
schedule: { pollIntervalSeconds: 1 }
http: { baseUrl: ${vendorUrl} }
request: { path: /mistaken/records }
records: { path: data }
webhook: { recordsPath: $ }
fields:
  dossierCode: ma
  status: TenCongDan
  procedureCode: NguoiXuLy
  channel: { path: mobile, map: { '1': 1, '2': 2 } }
  applicantType: SoHoChieu
  submittedAt: { path: NgaySinh, format: dd/MM/yyyy }
  sourceUpdatedAt: { path: cap_nhat, format: yyyyMMddHHmmss }
statuses: { preset: national }
rateLimit: { requestsPerSecond: 50 }
`;

interface Push {
  connector: string;
  body: string | unknown;
  status: number;
  deadLetters: number;
}
const pushes: Push[] = [
  {
    connector: 'pd-national',
    body: [nationalUpdate('PD-W1', underEveryKey), nationalUpdate('PD-W2', { ...underEveryKey, TrangThaiHoSo: '99' })],
    status: 202,
    deadLetters: 1,
  },
  {
    connector: 'pd-national',
    body: [
      `${nfd(name)} ${phone}`,
      ['PD-W3', name, idNumber, phone],
      nationalUpdate('PD-W4', { TrangThaiHoSo: '0', LichSu: deep }),
    ],
    status: 422,
    deadLetters: 3,
  },
  {
    connector: 'pd-national',
    body: nationalUpdate('PD-W5', { TrangThaiHoSo: 99, SoDienThoai: 912777333, SoCCCD: 79188777111 }),
    status: 422,
    deadLetters: 1,
  },
  {
    connector: 'pd-national',
    body: { ...nationalUpdate('PD-W6', { NgayHenTra: 'not a date' }), [name]: phone, [email]: idNumber },
    status: 422,
    deadLetters: 1,
  },
  { connector: 'pd-national', body: JSON.stringify(name), status: 400, deadLetters: 0 },
  {
    connector: 'pd-national',
    body: `{"MaHoSo":"PD-W7","__proto__":{"HoTen":"${name}","SoDienThoai":"${phone}"}}`,
    status: 422,
    deadLetters: 1,
  },
  {
    connector: 'pd-mistaken',
    body: [
      mistaken('PD-MW1', { TenCongDan: nfd(otherName) }),
      mistaken('PD-MW2', { mobile: phone }),
      mistaken('PD-MW3', { SoHoChieu: passport }),
      mistaken('PD-MW4', { NgaySinh: birth }),
      mistaken('PD-MW5', { TenCongDan: '2' }),
    ],
    status: 202,
    deadLetters: 4,
  },
];
const expectedDeadLetters = 9 + 4 + pushes.reduce((sum, push) => sum + push.deadLetters, 0);
const expectedDossiers = ['PD-G1', 'PD-M5', 'PD-MW5', 'PD-W1'];

const secretsKey = testSecretsKey();
let env: TestEnvironment;
let vendor: Server;
let workdir: string;
let definitionFile: string;
let gateway: FleetProcess | null = null;
let writer: FleetProcess | null = null;
const answers: Answer[] = [];
let lettersBeforeReplay: { dossier_code: string | null; reason: string; message: string; raw_payload: string }[] = [];
/** What each place held or printed, by place. */
const seen: Record<string, string> = {};

/** Everything under the test's Redis prefix, whatever the key type. */
async function redisDump(url: string, prefix: string): Promise<string> {
  const redis = new Redis(url, { maxRetriesPerRequest: 1 });
  const parts: string[] = [];
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      for (const key of keys) {
        const type = await redis.type(key);
        if (type === 'hash') parts.push(...Object.entries(await redis.hgetall(key)).flat());
        else if (type === 'string') parts.push((await redis.get(key)) ?? '');
        else if (type === 'list') parts.push(...(await redis.lrange(key, 0, -1)));
        else if (type === 'set') parts.push(...(await redis.smembers(key)));
        else if (type === 'zset') parts.push(...(await redis.zrange(key, 0, -1)));
        else if (type === 'stream') parts.push(...(await redis.xrange(key, '-', '+')).flat(2));
        parts.push(key);
      }
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
  return parts.join('\n');
}

/** The dead letters in the ingest jobs waiting in Redis. */
async function queuedDeadLetters(url: string, prefix: string): Promise<number> {
  const redis = new Redis(url, { maxRetriesPerRequest: 1 });
  try {
    let count = 0;
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:{ingest-*}:*`, 'COUNT', 1000);
      cursor = next;
      for (const key of keys) {
        if ((await redis.type(key)) !== 'hash') continue;
        const data = await redis.hget(key, 'data');
        if (data) count += ((JSON.parse(data) as { deadLetters?: unknown[] }).deadLetters ?? []).length;
      }
    } while (cursor !== '0');
    return count;
  } finally {
    redis.disconnect();
  }
}

const deadLetterRows = async () =>
  (
    await sql<{
      dump: string;
    }>`SELECT coalesce(string_agg(l::text, E'\n' ORDER BY id), '') AS dump FROM dead_letters l`.execute(env.db)
  ).rows[0]!.dump;

beforeAll(async () => {
  env = await createTestEnvironment({ SECRETS_KEY: secretsKey });
  vendor = createServer((request, response) => {
    const items = request.url?.startsWith('/mistaken/')
      ? { data: polledMistaken }
      : { items: polledNational, hasMore: false };
    response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(items));
  });
  await new Promise<void>((resolve) => vendor.listen(0, '127.0.0.1', resolve));
  const vendorUrl = `http://127.0.0.1:${(vendor.address() as AddressInfo).port}`;

  await saveConnector(env.db, {
    id: 'pd-national',
    sourceProvinceCode: '01',
    sourceCodeSet: '2025',
    kind: 'national-rest',
    config: { baseUrl: vendorUrl, pageSize: 100, lookbackSeconds: 0, rateLimit: { requestsPerSecond: 50 } },
    pollIntervalMs: 1000,
  });
  workdir = await mkdtemp(join(tmpdir(), 'personal-data-'));
  definitionFile = join(workdir, 'pd-mistaken.yaml');
  await writeFile(definitionFile, mistakenDefinition(vendorUrl));
  await new ConnectorRegistry(env.db).add(definitionFromText(mistakenDefinition(vendorUrl), 'pd-mistaken.yaml'), {
    actor: cliActor(),
  });
  const secrets = {
    'pd-national': await issueSecret(env.db, secretsKey, 'pd-national', 0),
    'pd-mistaken': await issueSecret(env.db, secretsKey, 'pd-mistaken', 0),
  };

  const fleetEnv = {
    DATABASE_URL: env.config.DATABASE_URL,
    REDIS_URL: env.config.REDIS_URL,
    QUEUE_PREFIX: env.config.QUEUE_PREFIX,
    SECRETS_KEY: secretsKey,
    HTTP_PORT: '0',
    LOG_LEVEL: 'debug',
    SHUTDOWN_TIMEOUT_MS: '20000',
  };
  // No writer yet: the ingest jobs stay in Redis, where their data is read as the writer would get it.
  gateway = spawnFleet(['start', '--role', 'gateway,poller,scheduler'], fleetEnv);
  let url = '';
  await waitFor(() => {
    url = /"url":"(http:\/\/[^"]+)"/.exec(gateway!.output())?.[1] ?? '';
    return url !== '';
  }, 'the gateway started');
  for (const push of pushes) {
    const answer = await deliver(
      url,
      push.connector,
      signed(secrets[push.connector as keyof typeof secrets], push.body),
    );
    expect({ status: answer.status, body: answer.body }).toMatchObject({ status: push.status });
    answers.push(answer);
  }
  await waitFor(
    async () => (await queuedDeadLetters(env.config.REDIS_URL, env.config.QUEUE_PREFIX)) >= expectedDeadLetters,
    'every dead letter queued, pushed and polled',
    180_000,
  );
  seen['Redis, before the writer'] = await redisDump(env.config.REDIS_URL, env.config.QUEUE_PREFIX);

  writer = spawnFleet(['start', '--role', 'writer'], fleetEnv);
  const count = async (table: 'dead_letters' | 'dossiers') =>
    Number((await sql<{ n: string }>`SELECT count(*) AS n FROM ${sql.table(table)}`.execute(env.db)).rows[0]!.n);
  await waitFor(
    async () =>
      (await count('dead_letters')) >= expectedDeadLetters && (await count('dossiers')) >= expectedDossiers.length,
    'the writer committed everything',
    180_000,
  );
  seen['dead_letters rows'] = await deadLetterRows();

  const cli = {
    DATABASE_URL: env.config.DATABASE_URL,
    REDIS_URL: env.config.REDIS_URL,
    QUEUE_PREFIX: env.config.QUEUE_PREFIX,
    LOG_LEVEL: 'debug',
  };
  const run = async (label: string, args: string[]) => {
    const { code, output } = await runFleet(args, cli);
    seen[label] = `exit ${code}\n${output}`;
  };
  await run('fleet dlq list', ['dlq', 'list', '--limit', '1000']);
  const ids = (await env.db.selectFrom('dead_letters').select('id').orderBy('id').execute()).map((row) =>
    String(row.id),
  );
  // Every letter, in one process: `fleet dlq show` takes several ids.
  await run('fleet dlq show (every letter)', ['dlq', 'show', ...ids]);
  await run('fleet connector check pd-national', ['connector', 'check', 'pd-national']);
  await run('fleet connector check pd-mistaken', ['connector', 'check', 'pd-mistaken']);
  await run('fleet connector check --file', ['connector', 'check', '--file', definitionFile]);
  lettersBeforeReplay = await env.db
    .selectFrom('dead_letters')
    .select(['dossier_code', 'reason', 'message', 'raw_payload'])
    .execute();
  await run('fleet dlq replay', ['dlq', 'replay']);
  seen['dead_letters rows, after the replay'] = await deadLetterRows();

  for (const fleet of [gateway, writer]) fleet.child.kill('SIGTERM');
  await Promise.all([gateway.exited, writer.exited]);
  seen['Redis, at the end'] = await redisDump(env.config.REDIS_URL, env.config.QUEUE_PREFIX);
  seen['logs of gateway, poller and scheduler'] = gateway.output();
  seen['logs of the writer'] = writer.output();
  seen['webhook answers'] = JSON.stringify(answers.map((answer) => answer.body));
}, 600_000);

afterAll(async () => {
  for (const fleet of [gateway, writer]) if (fleet && fleet.child.exitCode === null) fleet.child.kill('SIGKILL');
  await new Promise((resolve) => vendor?.close(resolve));
  if (workdir) await rm(workdir, { recursive: true, force: true });
  await env?.cleanup();
});

it('looked at every place with something in it', () => {
  expect(seen['logs of gateway, poller and scheduler']).toMatch(/"level":20,/); // debug lines, not a silent logger
  expect(seen['logs of gateway, poller and scheduler']).toContain('fleet started');
  expect(seen['Redis, before the writer']).toContain('"deadLetters":[{');
  expect(seen['dead_letters rows']!.split('\n')).toHaveLength(expectedDeadLetters);
  expect(seen['fleet dlq list']).toContain('unknown_status');
  // One `fleet dlq show` of every letter: each shows its raw payload.
  expect(seen['fleet dlq show (every letter)']!.match(/^raw payload:/gm)).toHaveLength(expectedDeadLetters);
  expect(seen['fleet connector check pd-mistaken']).toMatch(/would be dead-lettered/);
  expect(seen['fleet dlq replay']).toMatch(/replayed \d+ dead letters/);
  expect(answers.map((answer) => answer.status)).toEqual(pushes.map((push) => push.status));
});

it('no personal data comes out anywhere, in any form', () => {
  const leaks: string[] = [];
  for (const [place, text] of Object.entries(seen)) {
    for (const sentinel of sentinels) if (text.includes(sentinel)) leaks.push(`${place}: ${JSON.stringify(sentinel)}`);
  }
  expect(leaks).toEqual([]);
});

it('what a provincial IT team needs still comes out: the mapped values, the reasons, the shapes', async () => {
  const letters = lettersBeforeReplay;
  const byCode = new Map(letters.map((letter) => [letter.dossier_code, letter]));
  expect(byCode.get('PD-P1')).toMatchObject({
    reason: 'unknown_status',
    message: 'TrangThaiHoSo: "99" is not a national status code; expected 1 to 10',
  });
  expect(JSON.parse(byCode.get('PD-P1')!.raw_payload)).toMatchObject({
    MaHoSo: 'PD-P1',
    TrangThaiHoSo: '99',
    MaTTHC: '2.000477',
    NgayCapNhat: '20261127080000',
    HoVaTen: '[personal data]',
    x1: '[text: 12 characters]',
  });
  expect(byCode.get('PD-P2')!.message).toMatch(/^NgayHenTra: "31\/02\/2026" is not a date/);
  expect(byCode.get('PD-M1')!.message).toMatch(/^TenCongDan: a text of 20 characters \(not shown/);
  expect(
    letters
      .filter((letter) => letter.reason === 'malformed_record')
      .map((letter) => JSON.parse(letter.raw_payload) as unknown),
  ).toContainEqual(['[text: 5 characters]', '[text: 20 characters]', '[text: 12 characters]', '[text: 10 characters]']);
  // Replayed through the same definition, a letter still fails and says which value it no longer holds.
  const replayed = await env.db
    .selectFrom('dead_letters')
    .select('message')
    .where('dossier_code', '=', 'PD-M1')
    .executeTakeFirstOrThrow();
  expect(replayed.message).toMatch(
    /^TenCongDan: \[personal data\] \(a value the dead letter did not keep\) is not a status this definition maps/,
  );
  const rows = await env.db.selectFrom('dossiers').select('dossier_code').orderBy('dossier_code').execute();
  expect(rows.map((row) => row.dossier_code)).toEqual(expectedDossiers);
});
