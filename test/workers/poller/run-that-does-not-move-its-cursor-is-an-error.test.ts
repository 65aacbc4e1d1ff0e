import { afterAll, beforeAll, expect, it } from 'vitest';
import { sql } from 'kysely';
import type { Connector, Cursor, ReadState, SourcePage } from '../../../connectors/sdk/connector.js';
import type { DossierRecordInput } from '../../../connectors/sdk/dossier-record.js';
import { compareSinceCursors, sinceOf } from '../../../connectors/sdk/since-cursor.js';
import { saveConnector } from '../../../db/queries/connectors.js';
import { readCursor } from '../../../db/queries/sync-cursors.js';
import { runPoll } from '../../../workers/poller/poll-run.js';
import { writeBatch } from '../../../workers/writer/write-batch.js';
import { createTestEnvironment, type TestEnvironment } from '../../support/test-environment.js';

// The framework's own guard, for any connector plugin: a run that stops at its most pages must have moved the
// committed cursor, or the run that continues it reads the same pages again, for ever. This plugin pages by
// offset from a since-time and keeps only the time in its cursor (as lgsp-soap did): a backlog of more pages
// than a run reads, all stamped with one time, leaves its cursor where it was.

const updatedAt = '2026-11-20T01:00:00.000Z';
const backlog = Array.from({ length: 30 }, (_, i) => ({ code: `01.2026.${String(i).padStart(5, '0')}` }));

class SinceOnlyConnector implements Connector {
  startFrom(committed: Cursor | null): ReadState {
    return { offset: 0, since: sinceOf(committed) };
  }
  compareCursors(a: Cursor, b: Cursor): number {
    return compareSinceCursors(a, b);
  }
  async read(from: ReadState | null): Promise<SourcePage> {
    const offset = (from as { offset: number } | null)?.offset ?? 0;
    const items = backlog.slice(offset, offset + 2);
    return {
      items,
      cursor: { since: updatedAt },
      next: offset + 2 < backlog.length ? { offset: offset + 2, since: updatedAt } : null,
    };
  }
  map(item: unknown): DossierRecordInput {
    return {
      dossierCode: (item as { code: string }).code,
      status: 2,
      sourceStatus: '2',
      sourceUpdatedAt: new Date(updatedAt),
      sourceVersion: 1,
    } as DossierRecordInput;
  }
  mappedFields() {
    return [{ field: 'dossierCode', path: 'code' }];
  }
}

let env: TestEnvironment;
beforeAll(async () => {
  env = await createTestEnvironment();
  // The cursor belongs to a registered connector; this run is driven here, not by a poller.
  await saveConnector(env.db, {
    id: 'hanoi-since-only',
    sourceProvinceCode: '01',
    sourceCodeSet: '2025',
    kind: 'national-rest',
    config: { baseUrl: 'http://127.0.0.1:9' },
    pollIntervalMs: 3_600_000,
  });
});
afterAll(async () => {
  await env?.cleanup();
});

it('fails a run that read its most pages without moving the cursor, naming what to change', async () => {
  const options = {
    connector: new SinceOnlyConnector(),
    connectorId: 'hanoi-since-only',
    sourceProvinceCode: '01',
    sourceCodeSet: '2025' as const,
    sink: { addAndWait: (batch: Parameters<typeof writeBatch>[1]) => writeBatch(env.db, batch) },
    maxPages: 5,
  };
  // The first run moves the cursor from none to the tie's time, and continues.
  const first = await runPoll({ ...options, committed: null });
  expect(first).toMatchObject({ pages: 5, more: true });
  const committed = await readCursor(env.db, 'hanoi-since-only');
  expect(committed).toEqual({ since: updatedAt });

  // The continuation reads the same five pages and cannot move it: an error, not a success.
  await expect(runPoll({ ...options, committed })).rejects.toThrow(
    /connector hanoi-since-only: read 5 pages, the most one run reads, without moving its cursor, so the next run would read the same pages again and never get further; .*raise the page size or shorten the look-back/,
  );
  // What it read is stored all the same: nothing is lost by the error.
  expect(Number((await sql<{ n: string }>`SELECT count(*) AS n FROM dossiers`.execute(env.db)).rows[0]!.n)).toBe(10);
});
