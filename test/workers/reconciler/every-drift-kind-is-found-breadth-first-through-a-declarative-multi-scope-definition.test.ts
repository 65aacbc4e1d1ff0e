import { afterAll, beforeAll, expect, it } from 'vitest';
import { saveConnector } from '../../../db/queries/connectors.js';
import { parseDefinition } from '../../../workers/control-plane/definition.js';
import { portalSummariesSection } from '../../support/connectors.js';
import { runFleet } from '../../support/fleet-process.js';
import {
  lastRun,
  reconcileArgs,
  shareByTruth,
  shareOfLastRun,
  syncedProvince,
  type SyncedProvince,
} from '../../support/reconcile.js';
import { compareWithTruth } from '../../support/simulator-truth.js';
import { anomalyCodes, injectEveryKind } from './drift-kinds-sum.js';

// A vendor described by a definition file, not a code plugin, whose system answers many scopes in one POST
// (reconcile.summaries): the reconcile drills breadth-first through it, as with the national-rest plugin — several
// scopes a request — and finds and repairs every kind of drift.

let province: SyncedProvince;

beforeAll(async () => {
  province = await syncedProvince({ dossiersPerProvince: 4000 }, async (db, url) => {
    const definition = parseDefinition({
      id: 'hcm-declared',
      province: { code: '79' },
      http: { baseUrl: url },
      request: {
        path: '/api/dossiers',
        query: {
          province: '{{province}}',
          updatedSince: '{{windowStart}}',
          updatedBefore: '{{windowEnd}}',
          offset: '{{offset}}',
          limit: '{{limit}}',
        },
      },
      pagination: { type: 'offset', pageSize: 500 },
      incremental: { cursorField: 'NgayCapNhat', cursorFormat: 'yyyyMMddHHmmss', windowHours: 24 },
      records: { path: 'items' },
      reconcile: {
        summaries: portalSummariesSection(2000),
        fetch: {
          path: '/api/dossiers/by-code',
          query: { province: '{{province}}', codes: '{{codes}}' },
          recordsPath: 'items',
          batchSize: 200,
        },
      },
      fields: { dossierCode: 'MaHoSo', status: 'TrangThaiHoSo', sourceVersion: 'PhienBan' },
      statuses: { preset: 'national' },
      rateLimit: { requestsPerSecond: 500 },
    });
    await saveConnector(db, { ...definition, pollIntervalMs: 3_600_000 });
    return definition.id;
  });
}, 180_000);
afterAll(async () => {
  await province?.stop();
});

it('names every drifted dossier breadth-first, several scopes a request, and repairs what moved forward', async () => {
  const { expected, rewritten, deleted } = injectEveryKind(province.simulator, '79');
  const share = await shareByTruth(province);
  const result = await runFleet(reconcileArgs('hcm-declared'), province.settings());
  expect(result.code, result.output).toBe(0);
  const run = await lastRun(province.env.db);
  expect(run).toMatchObject({ status: 'done', ...expected });
  expect(await shareOfLastRun(province.env.db, 'hcm-declared')).toEqual({ provinceCode: '79', ...share });
  const stored = await province.env.db
    .selectFrom('reconcile_runs')
    .select(['method', 'scopes_compared'])
    .executeTakeFirstOrThrow();
  expect(stored.method).toBe('digest');
  // Breadth-first: fewer requests than buckets, each summary request carrying many scopes.
  expect(run.requests).toBeLessThan(run.bucketsTotal);
  expect(Number(stored.scopes_compared)).toBeGreaterThan(10 * run.requests);
  const anomalies = await anomalyCodes(province.env.db, run.id);
  expect(anomalies.disappeared).toEqual([...deleted].sort());
  expect(anomalies.versionBackwards).toEqual([...rewritten].sort());
  expect(await compareWithTruth(province.env.db, province.simulator)).toMatchObject({
    missing: 0,
    different: rewritten.length,
    extra: deleted.length,
  });
});
