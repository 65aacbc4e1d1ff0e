import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ConnectorRegistry, definitionFromText } from '../../../workers/control-plane/connector-registry.js';
import { cliActor } from '../../../workers/control-plane/audit.js';
import { runFleet } from '../../support/fleet-process.js';
import { createTestEnvironment, type TestEnvironment } from '../../support/test-environment.js';

// A definition error names the path and what is expected, exits 2 and stores nothing; so does an add of an id
// that exists, or an update of one that does not.

let env: TestEnvironment;
let dir: string;
let cli: Record<string, string>;

const fleet = (...args: string[]) => runFleet(args, cli);
const file = (name: string) => join(dir, name);
const connectors = async () =>
  (await env.db.selectFrom('connectors').select(['id', 'config']).orderBy('id').execute()).map((row) => ({
    id: row.id,
    config: row.config,
  }));

const valid = (id: string, pageSize: number) => `id: ${id}
province: {code: "79"}
plugin: {name: national-rest, config: {baseUrl: "http://127.0.0.1:9090", pageSize: ${pageSize}}}
`;

beforeAll(async () => {
  env = await createTestEnvironment();
  cli = { DATABASE_URL: env.config.DATABASE_URL, LOG_LEVEL: 'silent' };
  dir = await mkdtemp(join(tmpdir(), 'connector-bad-input-'));
  await writeFile(
    file('declarative.yaml'),
    `id: hcm-igate
province:
  code: "79"
http:
  baseUrl: https://motcua.example.gov.vn
request:
  path: /api/records
pagination:
  type: pageNumber
  pageSize: "50"
records:
  path: data.content
fields:
  dossierCode: code
  status: status
statuses:
  preset: english
`,
  );
  await writeFile(
    file('top-level.yaml'),
    'id: Sim_01\nprovince:\n  code: 1\nschedule:\n  pollIntervalSeconds: "60"\nplugin: {name: national-rest}\n',
  );
  await writeFile(file('broken.yaml'), 'id: sim-01\nprovince: {code: "01"\n');
  await writeFile(file('hcm.yaml'), valid('hcm-rest', 100));
  await writeFile(file('hcm-changed.yaml'), valid('hcm-rest', 500));
  await writeFile(file('missing.yaml'), valid('nowhere', 100));
  // One connector registered beforehand.
  await new ConnectorRegistry(env.db).add(definitionFromText(valid('hcm-rest', 100), 'hcm.yaml'), {
    actor: cliActor(),
  });
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
  await env?.cleanup();
});

it('prints one line per problem, each naming its path and what is expected, exits 2 and stores nothing', async () => {
  const before = await connectors();
  const [declarative, topLevel] = await Promise.all([
    fleet('connector', 'add', '--file', file('declarative.yaml')),
    fleet('connector', 'add', '--file', file('top-level.yaml')),
  ]);

  expect(declarative.code).toBe(2);
  expect(declarative.output).toContain('pagination.pageSize: expected a positive integer, got "50"\n');

  expect(topLevel.code).toBe(2);
  expect(topLevel.output.trimEnd().split('\n')).toEqual([
    'id: expected an id of lowercase letters, digits and dashes (at most 63), such as hcm-igate, got "Sim_01"',
    'province.code: expected a two-digit province code as text, such as "79", got 1',
    'schedule.pollIntervalSeconds: expected a whole number of seconds from 1 to 86400, got "60"',
  ]);
  expect(await connectors()).toEqual(before);
});

it('says where a file is not YAML, and when it cannot be read', async () => {
  const [broken, absent] = await Promise.all([
    fleet('connector', 'add', '--file', file('broken.yaml')),
    fleet('connector', 'add', '--file', file('absent.yaml')),
  ]);
  expect(broken.code).toBe(2);
  expect(broken.output).toMatch(/^.*broken\.yaml: not valid YAML or JSON: /);
  expect(absent.code).toBe(2);
  expect(absent.output.trim()).toBe(
    `fleet connector: --file ${file('absent.yaml')}: cannot read it (ENOENT); expected a connector definition file (YAML or JSON)`,
  );
});

it('refuses to add an id that exists with exit 2, and to update one that does not with exit 3 (not found)', async () => {
  const before = await connectors();
  const [exists, missing] = await Promise.all([
    fleet('connector', 'add', '--file', file('hcm-changed.yaml')),
    fleet('connector', 'update', '--file', file('missing.yaml')),
  ]);
  expect(exists.code).toBe(2);
  expect(exists.output.trim()).toBe(
    'fleet connector add: connector hcm-rest already exists; use update to change its definition',
  );
  expect(missing.code).toBe(3);
  expect(missing.output.trim()).toBe(
    'fleet connector update: connector nowhere is not registered; use add to register it',
  );
  expect(await connectors()).toEqual(before);
});

it('updates a registered connector from its file, keeping its state', async () => {
  await env.db.updateTable('connectors').set({ state: 'paused' }).where('id', '=', 'hcm-rest').execute();
  const { code, output } = await fleet('connector', 'update', 'hcm-rest', '--file', file('hcm-changed.yaml'));
  expect(output).toMatch(/^updated connector hcm-rest \(national-rest, province 79\): paused/);
  expect(code).toBe(0);
  const row = await env.db
    .selectFrom('connectors')
    .select(['state', 'config', 'definition'])
    .where('id', '=', 'hcm-rest')
    .executeTakeFirstOrThrow();
  expect(row).toMatchObject({
    state: 'paused',
    config: { pageSize: 500 },
    definition: { plugin: { config: { pageSize: 500 } } },
  });
});
