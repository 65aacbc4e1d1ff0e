import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ConnectorRegistry, definitionFromText } from '../../../workers/control-plane/connector-registry.js';
import { cliActor } from '../../../workers/control-plane/audit.js';
import { startFleet, type Fleet } from '../../../workers/fleet.js';
import { createLogger } from '../../../workers/logger.js';
import { createTestEnvironment, waitFor, type TestEnvironment } from '../../support/test-environment.js';
import { deliver, issueSecret, signed, testSecretsKey } from './webhook-client.js';

// A province system described by a definition file pushes in its own dialect: the definition's webhook
// section says where the updates are in a pushed body, and the same fields and statuses as polling map them.

const secretsKey = testSecretsKey();
let env: TestEnvironment;
let fleet: Fleet;
let secret: string;

const igateUpdate = (code: string, state: string, overrides: Record<string, unknown> = {}) => ({
  code,
  provinceCode: '79',
  procedure: { code: '1.001234', sectorCode: 'G01', name: 'Cấp giấy phép xây dựng' },
  agency: { code: '000.00.12.H79', name: 'Sở Xây dựng' },
  channel: 'online',
  applicantKind: 'business',
  state,
  timeline: {
    submittedAt: '2026-11-20T08:30:00+07:00',
    acceptedAt: null,
    dueAt: '2026-12-04T17:00:00+07:00',
    finishedAt: null,
    returnedAt: null,
    rejectedAt: null,
  },
  updatedAt: '2026-11-27T09:15:00',
  applicant: {
    fullName: 'Trần Thị Bình',
    identityNumber: '079188000111',
    phone: '0909000111',
    address: '1 Nguyễn Huệ',
  },
  ...overrides,
});

beforeAll(async () => {
  env = await createTestEnvironment({ SECRETS_KEY: secretsKey });
  // A gateway maps pushes without the province system's poll credentials.
  delete process.env.HCM_IGATE_CLIENT_SECRET;
  const text = `${await readFile(new URL('../../../connectors/examples/hcm-igate.yaml', import.meta.url), 'utf8')}\nwebhook: { recordsPath: data }\n`;
  await new ConnectorRegistry(env.db).add(definitionFromText(text, 'hcm-igate.yaml'), { actor: cliActor() });
  secret = await issueSecret(env.db, secretsKey, 'hcm-igate', 0);
  fleet = await startFleet(env.config, ['gateway', 'writer'], createLogger('silent'));
});
afterAll(async () => {
  await fleet?.stop();
  await env?.cleanup();
});

it("maps pushed updates found at webhook.recordsPath with the definition's fields and statuses", async () => {
  const answer = await deliver(
    fleet.url,
    'hcm-igate',
    signed(secret, {
      event: 'dossier.updated',
      data: [igateUpdate('HCM-1', 'processing'), igateUpdate('HCM-2', 'teleported')],
    }),
  );
  expect(answer.status).toBe(202);
  expect(answer.body).toMatchObject({ accepted: 1, rejected: 1 });
  expect(answer.body.errors).toEqual([expect.stringMatching(/^\$\[1\] \(dossier HCM-2\): unknown_status: /)]);

  await waitFor(
    async () =>
      (await env.db
        .selectFrom('dossiers')
        .select('dossier_code')
        .where('dossier_code', '=', 'HCM-1')
        .executeTakeFirst()) !== undefined,
    'HCM-1 stored',
    20_000,
    20,
  );
  const row = await env.db
    .selectFrom('dossiers')
    .selectAll()
    .where('dossier_code', '=', 'HCM-1')
    .executeTakeFirstOrThrow();
  expect(row).toMatchObject({
    province_code: '79',
    status: 4,
    source_status: 'processing',
    procedure_code: '1.001234',
    agency_code: '000.00.12.H79',
    channel: 2,
    applicant_type: 2,
    connector_id: 'hcm-igate',
  });
  expect(new Date(row.due_at!).toISOString()).toBe('2026-12-04T10:00:00.000Z');
  expect(new Date(row.source_updated_at).toISOString()).toBe('2026-11-27T02:15:00.000Z');
  const letter = await env.db
    .selectFrom('dead_letters')
    .select(['reason', 'raw_payload'])
    .where('dossier_code', '=', 'HCM-2')
    .executeTakeFirstOrThrow();
  expect(letter.reason).toBe('unknown_status');
  expect(letter.raw_payload).not.toMatch(/Trần Thị Bình|079188000111|0909000111/);
});

it('takes one update (an object) at the path as well as a list', async () => {
  expect((await deliver(fleet.url, 'hcm-igate', signed(secret, { data: igateUpdate('HCM-3', 'done') }))).status).toBe(
    202,
  );
  await waitFor(
    async () =>
      (await env.db.selectFrom('dossiers').select('status').where('dossier_code', '=', 'HCM-3').executeTakeFirst())
        ?.status === 10,
    'HCM-3 stored as done',
    20_000,
    20,
  );
});

it('refuses a body without updates at the path with 400, naming the path', async () => {
  const answer = await deliver(fleet.url, 'hcm-igate', signed(secret, { content: [igateUpdate('HCM-4', 'done')] }));
  expect({ status: answer.status, code: answer.body.code }).toEqual({ status: 400, code: 'body_unparseable' });
  expect(answer.body.detail).toBe(
    'webhook.recordsPath "data": expected one update (a JSON object) or a list of them, got nothing',
  );
});

it('keeps an update holding a prototype key as a dead letter named by its dossier code, and refuses such a key around the updates with 400', async () => {
  const good = JSON.stringify(igateUpdate('HCM-5', 'done'));
  const hostile = JSON.stringify(igateUpdate('HCM-6', 'done')).replace(
    '"procedure":{',
    '"procedure":{"__proto__":{"polluted":true},',
  );
  const mixed = await deliver(
    fleet.url,
    'hcm-igate',
    signed(secret, `{"event":"dossier.updated","data":[${good},${hostile}]}`),
  );
  expect(mixed.status).toBe(202);
  expect(mixed.body).toMatchObject({ accepted: 1, rejected: 1 });
  expect(mixed.body.errors).toEqual([
    expect.stringMatching(
      /^\$\[1\] \(dossier HCM-6\): malformed_record: the update holds the key "__proto__" \(at procedure\.__proto__\), which is refused/,
    ),
  ]);
  await waitFor(
    async () =>
      (await env.db.selectFrom('dead_letters').select('reason').where('dossier_code', '=', 'HCM-6').executeTakeFirst())
        ?.reason === 'malformed_record',
    'HCM-6 kept as a dead letter',
    20_000,
    20,
  );
  expect(
    await env.db.selectFrom('dossiers').select('status').where('dossier_code', '=', 'HCM-5').executeTakeFirst(),
  ).toEqual({ status: 10 });

  for (const [body, where] of [
    [`{"__proto__":{"polluted":true},"data":[${JSON.stringify(igateUpdate('HCM-7', 'done'))}]}`, '$.__proto__'],
    [
      `{"meta":{"tags":[{"constructor":{"prototype":1}}]},"data":${JSON.stringify(igateUpdate('HCM-7', 'done'))}}`,
      '$.meta.tags[0].constructor',
    ],
  ] as const) {
    const answer = await deliver(fleet.url, 'hcm-igate', signed(secret, body));
    expect({ status: answer.status, code: answer.body.code }).toEqual({ status: 400, code: 'body_unparseable' });
    expect(answer.body.detail).toContain(
      `the body is valid JSON, but it holds the key "${where
        .split('.')
        .pop()!
        .replace(/\[\d+\]$/, '')}" at ${where}, outside the updates`,
    );
  }
  expect(
    await env.db.selectFrom('dossiers').select('status').where('dossier_code', '=', 'HCM-7').executeTakeFirst(),
  ).toBeUndefined();
  expect(({} as Record<string, unknown>).polluted).toBeUndefined();
});
