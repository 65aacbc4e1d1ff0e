import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import type { DossierStatus } from '../../connectors/sdk/dossier-status.js';
import { writeBatch } from '../../workers/writer/write-batch.js';
import { createTestEnvironment, type TestEnvironment } from '../support/test-environment.js';
import { dossierRecord, shuffled } from '../support/records.js';

let env: TestEnvironment;
beforeAll(async () => {
  env = await createTestEnvironment();
});
afterAll(async () => env.cleanup());
beforeEach(async () => {
  await sql`TRUNCATE dossiers, dossier_events`.execute(env.db);
});

const write = (...records: ReturnType<typeof dossierRecord>[]) =>
  writeBatch(env.db, { origin: 'poll', connectorId: 'test', provinceCode: '01', records, deadLetters: [] });

async function row(dossierCode = '01.2026.000001') {
  return env.db.selectFrom('dossiers').selectAll().where('dossier_code', '=', dossierCode).executeTakeFirstOrThrow();
}
async function history(dossierCode = '01.2026.000001') {
  return env.db
    .selectFrom('dossier_events')
    .selectAll()
    .where('dossier_code', '=', dossierCode)
    .orderBy('source_version')
    .orderBy('observed_at')
    .execute();
}

describe('the writer guard (DESIGN.md guarantee 2)', () => {
  it('moves a dossier to a newer version', async () => {
    await write(dossierRecord({ sourceVersion: 1, status: 2 }));
    const outcome = await write(dossierRecord({ sourceVersion: 2, status: 4, sourceStatus: '4' }));
    expect(outcome).toMatchObject({ inserted: 0, updated: 1, unchanged: 0, events: 1 });
    expect(await row()).toMatchObject({ status: 4, source_version: '2' });
  });

  it('ignores an older version that arrives late', async () => {
    await write(dossierRecord({ sourceVersion: 5, status: 9, sourceStatus: '9' }));
    const outcome = await write(
      dossierRecord({ sourceVersion: 3, status: 4, sourceStatus: '4', observedAt: '2026-11-27T09:00:00.000Z' }),
    );
    expect(outcome).toMatchObject({ updated: 0, unchanged: 1 });
    expect(await row()).toMatchObject({ status: 9, source_version: '5' });
  });

  it('treats an exact repeat as a no-op: no update, no second history row', async () => {
    const record = dossierRecord({ sourceVersion: 2, status: 4, sourceStatus: '4' });
    await write(record);
    const before = await row();
    const outcome = await write({ ...record, observedAt: '2026-11-27T10:00:00.000Z' });
    expect(outcome).toMatchObject({ inserted: 0, updated: 0, unchanged: 1, events: 0 });
    expect((await row()).synced_at).toEqual(before.synced_at);
    expect(await history()).toHaveLength(1);
  });

  it('lets the later observation win between two states with the same version, and keeps both in the history', async () => {
    const updatedAt = '2026-11-20T03:04:00.000Z'; // minute precision: two states share it
    await write(
      dossierRecord({
        sourceVersion: 100,
        sourceUpdatedAt: updatedAt,
        status: 4,
        sourceStatus: '4',
        observedAt: '2026-11-27T01:00:00.000Z',
      }),
    );
    await write(
      dossierRecord({
        sourceVersion: 100,
        sourceUpdatedAt: updatedAt,
        status: 5,
        sourceStatus: '5',
        observedAt: '2026-11-27T01:00:05.000Z',
      }),
    );
    expect(await row()).toMatchObject({ status: 5 });
    // The first state delivered again, observed before the second: no-op.
    const late = await write(
      dossierRecord({
        sourceVersion: 100,
        sourceUpdatedAt: updatedAt,
        status: 4,
        sourceStatus: '4',
        observedAt: '2026-11-27T01:00:02.000Z',
      }),
    );
    expect(late.updated).toBe(0);
    expect(await row()).toMatchObject({ status: 5 });
    expect((await history()).map((event) => event.status)).toEqual([4, 5]);
  });

  it('reduces duplicates within one batch to the newest state and records each distinct state once', async () => {
    const outcome = await write(
      dossierRecord({ sourceVersion: 2, status: 4, sourceStatus: '4' }),
      dossierRecord({ sourceVersion: 3, status: 5, sourceStatus: '5' }),
      dossierRecord({ sourceVersion: 1, status: 2 }),
      dossierRecord({ sourceVersion: 3, status: 5, sourceStatus: '5' }),
      dossierRecord({ sourceVersion: 2, status: 4, sourceStatus: '4' }),
    );
    expect(outcome).toMatchObject({ inserted: 1, updated: 0, events: 3 });
    expect(await row()).toMatchObject({ status: 5, source_version: '3' });
    expect((await history()).map((event) => Number(event.source_version))).toEqual([1, 2, 3]);
  });

  it('ends at the newest state whatever the order, batching and concurrency of delivery', async () => {
    const dossiers = 300;
    const versions = 6;
    const updates = [];
    for (let d = 0; d < dossiers; d++) {
      for (let v = 1; v <= versions; v++) {
        updates.push(
          dossierRecord({
            dossierCode: `01.2026.${String(d).padStart(6, '0')}`,
            sourceVersion: v,
            status: (((d + v) % 10) + 1) as DossierStatus,
            sourceStatus: String(((d + v) % 10) + 1),
          }),
        );
      }
    }
    const order = shuffled(updates, 42);
    // Uneven batches, two writers at once, and every update delivered twice.
    const batches: (typeof updates)[] = [];
    for (let i = 0, size = 1; i < order.length; i += size, size = (size * 7) % 257 || 1)
      batches.push(order.slice(i, i + size));
    const lane = async (own: typeof batches) => {
      for (const batch of own) await write(...batch);
    };
    await Promise.all([lane(batches.filter((_, i) => i % 2 === 0)), lane(batches.filter((_, i) => i % 2 === 1))]);
    await Promise.all([
      lane(shuffled(batches, 7).slice(0, batches.length / 2)),
      lane(shuffled(batches, 7).slice(batches.length / 2)),
    ]);

    const rows = await env.db.selectFrom('dossiers').select(['dossier_code', 'status', 'source_version']).execute();
    expect(rows).toHaveLength(dossiers);
    for (const stored of rows) {
      const d = Number(stored.dossier_code.split('.')[2]);
      expect(stored).toMatchObject({ source_version: String(versions), status: ((d + versions) % 10) + 1 });
    }
    const { rows: counts } = await sql<{ events: string; distinct_states: string }>`
      SELECT count(*) AS events, count(DISTINCT (dossier_code, source_version)) AS distinct_states FROM dossier_events`.execute(
      env.db,
    );
    expect(counts[0]).toEqual({ events: String(dossiers * versions), distinct_states: String(dossiers * versions) });
  });
});
