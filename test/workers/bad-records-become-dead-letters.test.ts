import { afterAll, beforeAll, expect, it } from 'vitest';
import { sql } from 'kysely';
import { ProvinceSimulator } from '../../scripts/tools/simulator/province-simulator.js';
import { startFleet, roles, type Fleet } from '../../workers/fleet.js';
import { createLogger } from '../../workers/logger.js';
import { registerSimulatorConnector } from '../support/connectors.js';
import { compareWithTruth } from '../support/simulator-truth.js';
import { createTestEnvironment, waitFor, type TestEnvironment } from '../support/test-environment.js';

let env: TestEnvironment;
let simulator: ProvinceSimulator;
let simulatorUrl: string;
let fleet: Fleet;

beforeAll(async () => {
  env = await createTestEnvironment();
  simulator = new ProvinceSimulator({
    provinces: ['01'],
    dossiersPerProvince: 3000,
    malformedRate: 0.02,
    paused: true,
    seed: 9,
  });
  simulatorUrl = await simulator.start();
  await registerSimulatorConnector(env.db, simulatorUrl, '01', { pageSize: 400, pollIntervalMs: 200 });
  fleet = await startFleet(env.config, roles, createLogger('silent'));
  await waitFor(async () => (await compareWithTruth(env.db, simulator)).missing === 0, 'well-formed dossiers stored');
});
afterAll(async () => {
  await fleet?.stop();
  await simulator?.stop();
  await env?.cleanup();
});

const malformed = () => [...simulator.truth()].filter((row) => row.malformed);

it('keeps every malformed record as a dead letter with its reason, and stores the rest', async () => {
  const expected = malformed();
  expect(expected.length).toBeGreaterThan(20);
  await waitFor(
    async () =>
      Number((await sql<{ n: string }>`SELECT count(*) AS n FROM dead_letters`.execute(env.db)).rows[0]!.n) >=
      expected.length,
    'dead letters kept',
  );
  const letters = await env.db.selectFrom('dead_letters').selectAll().execute();
  expect(letters).toHaveLength(expected.length);
  const byCode = new Map(letters.map((letter) => [letter.dossier_code, letter]));
  for (const truth of expected) {
    const letter = byCode.get(truth.dossierCode);
    expect(letter, truth.dossierCode).toBeDefined();
    expect(letter).toMatchObject({
      reason: truth.malformed,
      connector_id: 'sim-01',
      province_code: '01',
      state: 'new',
    });
    expect(letter!.message).toMatch(
      truth.malformed === 'unknown_status'
        ? /^TrangThaiHoSo: "99" is not a national status code; expected 1 to 10$/
        : /^NgayHenTra: "20260231250000" is not a date in format yyyyMMddHHmmss/,
    );
    expect(JSON.parse(letter!.raw_payload)).toMatchObject({
      MaHoSo: truth.dossierCode,
      ChuHoSo: '[personal data]',
      SoGiayToChuHoSo: '[personal data]',
    });
  }
  expect(await compareWithTruth(env.db, simulator)).toMatchObject({ missing: 0, different: 0, extra: 0 });
});

it('keeps a bad record once, and changes nothing, when everything is read again from the start', async () => {
  const count = async (table: 'dead_letters' | 'dossier_events') =>
    Number((await sql<{ n: string }>`SELECT count(*) AS n FROM ${sql.table(table)}`.execute(env.db)).rows[0]!.n);
  const runs = async () =>
    (await fleet.metrics.pollRuns.get()).values
      .filter((v) => v.labels.outcome === 'caught_up')
      .reduce((sum, v) => sum + v.value, 0);
  const events = await count('dossier_events');
  // Losing the cursor makes the next run read the whole source again: every record is a repeat.
  await env.db.deleteFrom('sync_cursors').execute();
  const seen = await runs();
  await waitFor(async () => (await runs()) >= seen + 2, 'two more poll runs');
  expect(await env.db.selectFrom('sync_cursors').select('connector_id').execute()).toHaveLength(1);
  expect(await count('dead_letters')).toBe(malformed().length);
  expect(await count('dossier_events')).toBe(events);
});

it('never stores or exports applicants\u2019 personal data', async () => {
  const served: Record<string, unknown>[] = [];
  let query = '';
  for (;;) {
    const page = (await (await fetch(`${simulatorUrl}/api/dossiers?province=01&limit=1000${query}`)).json()) as {
      items: Record<string, string>[];
      hasMore: boolean;
    };
    served.push(...page.items);
    if (!page.hasMore) break;
    const last = page.items.at(-1)!;
    query = `&updatedSince=${last.NgayCapNhat}&afterCode=${encodeURIComponent(last.MaHoSo!)}`;
  }
  const personal = served.flatMap((item) =>
    [item.ChuHoSo, item.SoGiayToChuHoSo, item.SoDienThoai, item.DiaChi].map(String),
  );
  expect(personal.length).toBeGreaterThan(1000);

  const { rows } = await sql<{ dump: string }>`
    SELECT (SELECT coalesce(string_agg(d::text, E'\n'), '') FROM dossiers d)
        || (SELECT coalesce(string_agg(e::text, E'\n'), '') FROM dossier_events e)
        || (SELECT coalesce(string_agg(l::text, E'\n'), '') FROM dead_letters l) AS dump`.execute(env.db);
  const dump = rows[0]!.dump;
  const metrics = await (await fetch(`${fleet.url}/metrics`)).text();
  for (const value of new Set(personal)) {
    expect(dump.includes(value), 'personal data in Postgres').toBe(false);
    expect(metrics.includes(value), 'personal data in metrics').toBe(false);
  }
});

it('exports throughput, rejections, batch latency and queue depth, with no dossier code in a label', async () => {
  const metrics = await (await fetch(`${fleet.url}/metrics`)).text();
  expect(metrics).toMatch(/^dossier_sync_records_fetched_total\{province="01"\} \d+/m);
  expect(metrics).toMatch(/^dossier_sync_records_written_total\{province="01",outcome="inserted"\} \d+/m);
  expect(metrics).toMatch(/^dossier_sync_records_rejected_total\{province="01",reason="unknown_status"\} [1-9]/m);
  expect(metrics).toMatch(/^dossier_sync_records_rejected_total\{province="01",reason="bad_date"\} [1-9]/m);
  expect(metrics).toMatch(/^dossier_sync_write_batch_duration_seconds_bucket\{le="0.1"\} \d+/m);
  expect(metrics).toMatch(/^dossier_sync_queue_depth\{queue="ingest-01",state="waiting"\} \d+/m);
  expect(metrics).toMatch(/^dossier_sync_queue_depth\{queue="poll",state="delayed"\} \d+/m);
  expect(metrics).toMatch(/^process_resident_memory_bytes \d+/m);
  // The letters waiting, by the province they were kept under and their reason: exactly the malformed records.
  const byReason = new Map<string, number>();
  for (const truth of malformed()) byReason.set(truth.malformed!, (byReason.get(truth.malformed!) ?? 0) + 1);
  const waiting = [...metrics.matchAll(/^dossier_sync_dead_letters\{(.*)\} (\d+)$/gm)].map(([, labels, n]) => [
    labels,
    Number(n),
  ]);
  expect(new Map(waiting as [string, number][])).toEqual(
    new Map([...byReason].map(([reason, n]) => [`province="01",reason="${reason}"`, n])),
  );
  expect(metrics).not.toMatch(/01\.\d{4}\.\d+/);
});
