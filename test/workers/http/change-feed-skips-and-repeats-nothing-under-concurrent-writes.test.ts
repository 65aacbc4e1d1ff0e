import { sql, type Kysely } from 'kysely';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { DossierRecord } from '../../../connectors/sdk/dossier-record.js';
import type { DossierStatus } from '../../../connectors/sdk/dossier-status.js';
import { createDatabase } from '../../../db/database.js';
import { syncedAtText } from '../../../db/queries/find-dossier.js';
import { upsertDossiers } from '../../../db/queries/upsert-dossiers.js';
import type { Database } from '../../../db/schema.js';
import { startReadApi, type ReadApiServer } from '../../support/read-api.js';
import { dossierRecord } from '../../support/records.js';
import { createTestEnvironment, type TestEnvironment } from '../../support/test-environment.js';

// The change feed while the writer keeps writing: several writer transactions at once, some committing at once and
// some held open for seconds after (or before) they write — so rows stamped with an early synced_at (the
// transaction's start) commit after rows stamped later. Two readers page through meanwhile with small limits, one
// nationally and one for a province. Once the writes stop and the readers catch up, each has seen every dossier's
// final state, never the same (dossier, syncedAt) twice, and its keyset never went backwards.
//
// The horizon is what makes it hold: verified by hand once (2026-12-02) by making listDossiers ignore it (the page
// bound set to the present instead of changeHorizon, the one-second margin kept): this test then failed, the
// national reader missing the final state of dossiers written in held transactions. With the horizon restored it
// passes.

let env: TestEnvironment;
let writerDb: Kysely<Database>;
let api: ReadApiServer;

beforeAll(async () => {
  env = await createTestEnvironment();
  writerDb = createDatabase(env.config.DATABASE_URL, { maxConnections: 8 });
  api = await startReadApi(env.db);
});
afterAll(async () => {
  await api?.close();
  await writerDb?.destroy();
  await env?.cleanup();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const between = (low: number, high: number) => low + Math.floor(Math.random() * (high - low + 1));
const statuses: DossierStatus[] = [1, 2, 4, 5, 4, 9, 10];

/** The last version given to each dossier: the state the table must end in. */
const versions = new Map<string, number>();
const keyOf = (provinceCode: string, dossierCode: string) => `${provinceCode}/${dossierCode}`;

function nextState(provinceCode: string, dossierCode: string): DossierRecord {
  const key = keyOf(provinceCode, dossierCode);
  const version = (versions.get(key) ?? 0) + 1;
  versions.set(key, version);
  const status = statuses[(version - 1) % statuses.length]!;
  return dossierRecord({
    provinceCode,
    sourceProvinceCode: provinceCode,
    dossierCode,
    status,
    sourceStatus: String(status),
    sourceVersion: version,
    sourceUpdatedAt: new Date(Date.UTC(2026, 10, 1) + version * 60_000).toISOString(),
    observedAt: new Date().toISOString(),
  });
}

/** One committed writer transaction: when it started (its rows' synced_at) and when its commit returned. */
interface Written {
  held: boolean;
  startedAt: string;
  committedAt: number;
}
const written: Written[] = [];

async function transaction(records: DossierRecord[], hold: 'none' | 'after' | 'before', holdMs: number) {
  const startedAt = await writerDb.transaction().execute(async (trx) => {
    const {
      rows: [start],
    } = await sql<{
      at: string;
    }>`SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS at`.execute(trx);
    if (hold === 'before') await sleep(holdMs);
    await upsertDossiers(trx, records);
    if (hold === 'after') await sleep(holdMs);
    return start!.at;
  });
  written.push({ held: hold !== 'none', startedAt, committedAt: Date.now() });
}

/** A writer that commits at once: new dossiers and new versions of its pool's dossiers, across provinces. */
async function quickWriter(id: number, until: number) {
  const provinces = ['01', '24', '48', '79'];
  const pool: [string, string][] = [];
  let next = 0;
  while (Date.now() < until) {
    const batch: DossierRecord[] = [];
    for (let i = between(1, 3); i > 0; i--) {
      const dossier: [string, string] = [provinces[between(0, 3)]!, `Q${id}-${String(next++).padStart(6, '0')}`];
      pool.push(dossier);
      batch.push(nextState(...dossier));
    }
    for (let i = between(0, 3); i > 0 && pool.length > 0; i--)
      batch.push(nextState(...pool[between(0, pool.length - 1)]!));
    await transaction(batch, 'none', 0);
    await sleep(between(5, 30));
  }
}

/**
 * A writer whose transactions stay open 1.5 to 2.5 s — longer than the feed's one-second margin — after writing, or
 * before: its rows carry the transaction's early start and appear only at its commit. Its dossiers are its own, so
 * it holds no row another writer waits for.
 */
async function heldWriter(id: number, until: number) {
  const pool: [string, string][] = [];
  let next = 0;
  let round = 0;
  while (Date.now() < until) {
    const batch: DossierRecord[] = [];
    for (let i = between(2, 4); i > 0; i--) {
      const dossier: [string, string] = ['79', `H${id}-${String(next++).padStart(6, '0')}`];
      pool.push(dossier);
      batch.push(nextState(...dossier));
    }
    if (pool.length > 4) batch.push(nextState(...pool[between(0, pool.length - 5)]!));
    await transaction(batch, round++ % 2 === 0 ? 'after' : 'before', between(1500, 2500));
  }
}

interface Seen {
  key: string;
  syncedAt: string;
  sourceVersion: number;
}

/** Pages through the feed until told to stop and caught up to `caughtUpAt()`; checks the order on every item. */
async function reader(filters: string, caughtUpAt: () => number | undefined) {
  const seen: Seen[] = [];
  let last: [string, string, string] | undefined;
  let cursor: string | undefined;
  let pages = 0;
  for (;;) {
    const limit = between(1, 9);
    const response = await api.get(`/v1/dossiers?limit=${limit}${filters}${cursor ? `&cursor=${cursor}` : ''}`);
    expect(response.status).toBe(200);
    const page = (await response.json()) as {
      items: { provinceCode: string; dossierCode: string; syncedAt: string; sourceVersion: number }[];
      nextCursor: string;
      hasMore: boolean;
      horizon: string;
    };
    pages++;
    expect(page.items.length).toBeLessThanOrEqual(limit);
    for (const item of page.items) {
      const position: [string, string, string] = [item.syncedAt, item.provinceCode, item.dossierCode];
      // The keyset never goes backwards: each item comes strictly after the one before, across pages.
      if (last) expect(position.join(' ') > last.join(' '), `${position.join(' ')} after ${last.join(' ')}`).toBe(true);
      expect(Date.parse(item.syncedAt)).toBeLessThan(Date.parse(page.horizon));
      last = position;
      seen.push({
        key: keyOf(item.provinceCode, item.dossierCode),
        syncedAt: item.syncedAt,
        sourceVersion: item.sourceVersion,
      });
    }
    cursor = page.nextCursor;
    const doneAt = caughtUpAt();
    if (!page.hasMore && doneAt !== undefined && Date.parse(page.horizon) > doneAt) return { seen, pages };
    if (!page.hasMore) await sleep(20);
  }
}

it('hands every final state once, in order, while writer transactions commit out of their start order', async () => {
  const until = Date.now() + 7_000;
  let doneAt: number | undefined;
  const readers = [reader('', () => doneAt), reader('&province=79', () => doneAt)];
  try {
    await Promise.all([
      quickWriter(1, until),
      quickWriter(2, until),
      quickWriter(3, until),
      heldWriter(1, until),
      heldWriter(2, until),
    ]);
  } finally {
    // Every write committed: all rows are synced before this instant (+1 ms: a Date drops the microseconds).
    const {
      rows: [now],
    } = await sql<{ at: Date }>`SELECT statement_timestamp() AS at`.execute(writerDb);
    doneAt = now!.at.getTime() + 1;
  }
  const [national, province] = await Promise.all(readers);

  // The run had what the test is about: a held transaction committing after one that started later had committed.
  const held = written.filter((write) => write.held);
  expect(held.length).toBeGreaterThan(3);
  expect(
    held.some((slow) =>
      written.some((fast) => !fast.held && fast.startedAt > slow.startedAt && fast.committedAt < slow.committedAt),
    ),
  ).toBe(true);
  expect(national!.pages).toBeGreaterThan(50);

  const { rows: stored } = await sql<{
    province_code: string;
    dossier_code: string;
    synced_at: string;
    source_version: string;
  }>`
    SELECT province_code, dossier_code, ${syncedAtText} AS synced_at, source_version FROM dossiers`.execute(env.db);
  expect(stored.length).toBe(versions.size);

  for (const [name, { seen }, rows] of [
    ['national', national!, stored],
    ['province 79', province!, stored.filter((row) => row.province_code === '79')],
  ] as const) {
    const pairs = seen.map((item) => `${item.key}@${item.syncedAt}`);
    expect(new Set(pairs).size, `${name}: a (dossier, syncedAt) seen twice`).toBe(pairs.length);
    const byPair = new Map(seen.map((item) => [`${item.key}@${item.syncedAt}`, item.sourceVersion]));
    const missed = rows.filter((row) => {
      const key = keyOf(row.province_code, row.dossier_code);
      return byPair.get(`${key}@${row.synced_at}`) !== Number(row.source_version);
    });
    expect(
      missed.map((row) => keyOf(row.province_code, row.dossier_code)),
      `${name}: final states not seen`,
    ).toEqual([]);
    for (const row of rows)
      expect(Number(row.source_version)).toBe(versions.get(keyOf(row.province_code, row.dossier_code)));
  }
});
