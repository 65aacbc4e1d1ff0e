import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ProvinceSimulator } from '../../../scripts/tools/simulator/province-simulator.js';
import { ConnectorRegistry, definitionFromText } from '../../../workers/control-plane/connector-registry.js';
import { cliActor } from '../../../workers/control-plane/audit.js';
import { runFleet } from '../../support/fleet-process.js';
import { createTestEnvironment, type TestEnvironment } from '../../support/test-environment.js';

// `fleet connector check` connects, authenticates, reads and maps ONE page, says what would be stored and what
// would be dead-lettered and why, and writes nothing.

let env: TestEnvironment;
let dir: string;
let cli: Record<string, string>;
let open: ProvinceSimulator;
let locked: ProvinceSimulator;
let openUrl: string;
let lockedUrl: string;

const fleet = (args: string[], extraEnv: Record<string, string> = {}) => runFleet(args, { ...cli, ...extraEnv });
const file = (name: string) => join(dir, name);
const definition = (id: string, baseUrl: string, extra = '') => `id: ${id}
province: {code: "01"}
plugin:
  name: national-rest
  config: {baseUrl: "${baseUrl}", pageSize: 100${extra}}
`;

/** Row counts of every table a sync writes, and the registered connector's row. */
async function snapshot() {
  const counts = await sql<Record<string, string>>`
    SELECT (SELECT count(*) FROM dossiers) AS dossiers, (SELECT count(*) FROM dossier_events) AS events,
           (SELECT count(*) FROM dead_letters) AS dead_letters, (SELECT count(*) FROM sync_cursors) AS cursors`.execute(
    env.db,
  );
  return { counts: counts.rows[0], connectors: await env.db.selectFrom('connectors').selectAll().execute() };
}

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

beforeAll(async () => {
  env = await createTestEnvironment();
  cli = { DATABASE_URL: env.config.DATABASE_URL, LOG_LEVEL: 'silent' };
  open = new ProvinceSimulator({
    provinces: ['01'],
    dossiersPerProvince: 400,
    malformedRate: 0.1,
    paused: true,
    seed: 5,
  });
  locked = new ProvinceSimulator({ provinces: ['01'], dossiersPerProvince: 10, paused: true, apiKey: 'the-right-key' });
  [openUrl, lockedUrl] = await Promise.all([open.start(), locked.start()]);
  dir = await mkdtemp(join(tmpdir(), 'connector-check-'));
  await writeFile(file('sim-01.yaml'), definition('sim-01', openUrl));
  await writeFile(file('closed.yaml'), definition('sim-01', `http://127.0.0.1:${await closedPort()}`));
  await writeFile(file('locked.yaml'), definition('sim-01', lockedUrl, ', apiKey: {env: SIM_01_KEY}'));
  await new ConnectorRegistry(env.db).add(definitionFromText(definition('sim-01', openUrl), 'sim-01.yaml'), {
    actor: cliActor(),
  });
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
  await Promise.all([open?.stop(), locked?.stop()]);
  await env?.cleanup();
});

it('reads one page from a definition file and from a stored connector: counts, examples, dead letters by reason; writes nothing', async () => {
  // What the first page holds, straight from the simulator.
  const page = (await (await fetch(`${openUrl}/api/dossiers?province=01&limit=100`)).json()) as {
    items: { MaHoSo: string }[];
  };
  const malformed = new Map(
    [...open.truth()].filter((row) => row.malformed).map((row) => [row.dossierCode, row.malformed!]),
  );
  const bad = page.items.filter((item) => malformed.has(item.MaHoSo));
  expect(bad.length).toBeGreaterThan(0);
  const before = await snapshot();

  // The page's share of dead letters is known (the simulator's malformed records): accepted, the check passes.
  const accept = ['--accept-dead-letters', String(bad.length)];
  const [fromFile, stored] = await Promise.all([
    fleet(['connector', 'check', '--file', file('sim-01.yaml'), ...accept]),
    fleet(['connector', 'check', 'sim-01', ...accept]),
  ]);
  for (const { code, output } of [fromFile, stored]) {
    expect(code).toBe(0);
    expect(output).toMatch(
      /^check of connector sim-01 \(national-rest, province 01\): reads one page, writes nothing$/m,
    );
    expect(output).toMatch(
      /^connected and authenticated; read 100 records on the first page \(the source has more pages/m,
    );
    expect(output).toMatch(new RegExp(`^${100 - bad.length} would be stored, for example:$`, 'm'));
    // Examples: dossier code, status and dates (Vietnam time, beside what the source wrote); never the applicant.
    expect(output).toMatch(
      /^ {2}01\.\d{4}\.\d{6}\n {4}dossierCode +01\.\d{4}\.\d{6} +from MaHoSo "01\.\d{4}\.\d{6}"$/m,
    );
    expect(output).toMatch(/^ {4}status +\d+ +from TrangThaiHoSo "\d+"$/m);
    expect(output).toMatch(/^ {4}submittedAt +\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+07:00 +from NgayNopHoSo "\d{14}"$/m);
    expect(output).toMatch(
      /^ {4}sourceUpdatedAt +\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+07:00 +from NgayCapNhat "\d{14}"$/m,
    );
    expect(output).toMatch(
      new RegExp(
        `^${bad.length} of 100 records \\(${bad.length}%\\) would be dead-lettered: within the ${bad.length}% accepted$`,
        'm',
      ),
    );
    expect(output).not.toMatch(/ChuHoSo|SoDienThoai/);
    expect(output).toMatch(new RegExp(`^${bad.length} would be dead-lettered:$`, 'm'));
    for (const reason of new Set(bad.map((item) => malformed.get(item.MaHoSo)))) {
      const count = bad.filter((item) => malformed.get(item.MaHoSo) === reason).length;
      expect(output).toMatch(new RegExp(`^ {2}${reason}: ${count}$`, 'm'));
    }
    const example = bad[0]!;
    const message =
      malformed.get(example.MaHoSo) === 'unknown_status'
        ? 'TrangThaiHoSo: "99" is not a national status code; expected 1 to 10'
        : 'NgayHenTra: "20260231250000" is not a date';
    expect(output).toContain(`    ${example.MaHoSo}: ${message}`);
  }
  expect(await snapshot()).toEqual(before);
});

it('names an unreachable system and a refused key, with what to check, and exits 1', async () => {
  const before = await snapshot();
  const [closed, wrongKey, noKey] = await Promise.all([
    fleet(['connector', 'check', '--file', file('closed.yaml')]),
    fleet(['connector', 'check', '--file', file('locked.yaml')], { SIM_01_KEY: 'a-wrong-key' }),
    fleet(['connector', 'check', '--file', file('locked.yaml')]),
  ]);
  expect(closed.code).toBe(1);
  expect(closed.output).toMatch(
    /^could not connect: connector sim-01: GET \/api\/dossiers: no answer from the province system \(ECONNREFUSED\); check the base URL and that it is reachable$/m,
  );

  expect(wrongKey.code).toBe(1);
  expect(wrongKey.output).toMatch(
    /^connected, but authentication failed: connector sim-01: GET \/api\/dossiers: the province system answered HTTP 401; check the credentials configured for this connector$/m,
  );
  expect(wrongKey.output).not.toContain('a-wrong-key');

  expect(noKey.code).toBe(1);
  expect(noKey.output).toMatch(
    /^cannot build the connector: connector sim-01: apiKey: environment variable SIM_01_KEY is not set$/m,
  );
  expect(await snapshot()).toEqual(before);
});

it('says so when the first page holds no records', async () => {
  const empty = new ProvinceSimulator({ provinces: ['01'], dossiersPerProvince: 0, paused: true });
  const url = await empty.start();
  try {
    await writeFile(file('empty.yaml'), definition('sim-01', url));
    const { code, output } = await fleet(['connector', 'check', '--file', file('empty.yaml')]);
    expect(code).toBe(0);
    expect(output).toMatch(/^connected and authenticated; read 0 records on the first page$/m);
    expect(output).toMatch(/^0 records on the first page — check records\.path \/ the request$/m);
  } finally {
    await empty.stop();
  }
});

it('refuses a check of nothing, or of both a file and an id, with exit 2', async () => {
  const { code, output } = await fleet(['connector', 'check']);
  expect(code).toBe(2);
  expect(output.trim()).toBe(
    'fleet connector check: expected either a connector id or --file definition.yaml, not both or neither',
  );
});
