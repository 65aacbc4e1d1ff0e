import { afterAll, beforeAll, expect, it } from 'vitest';
import { formatVietnamTime } from '../../../connectors/sdk/dates.js';
import { saveConnector } from '../../../db/queries/connectors.js';
import { commitCursor } from '../../../db/queries/sync-cursors.js';
import { ProvinceSimulator } from '../../../scripts/tools/simulator/province-simulator.js';
import { createApiKey } from '../../../workers/control-plane/api-key-store.js';
import { cliActor } from '../../../workers/control-plane/audit.js';
import { spawnFleet, type FleetProcess } from '../../support/fleet-process.js';
import { sparePort } from '../../support/own-services.js';
import { compareWithTruth, duplicateHistoryRows } from '../../support/simulator-truth.js';
import { createTestEnvironment, waitFor, type TestEnvironment } from '../../support/test-environment.js';

// A backfill and the live polls of the same connector share its rate limit (one request gate in Redis): a whole
// fleet (`--role all`) polls the connector four times a second while the reconciler role backfills it, started over
// HTTP. The simulator records every request it receives: in any 3 s the source never sees more than the limit
// allows, although polls alone would ask for all of it and the backfill alone too. And the live sync is not starved:
// dossiers that change at the source while the backfill runs reach the copy before the backfill ends.

const requestsPerSecond = 4;
/** Whole seconds, a minute ago: the dossiers' update times are spread over the 30 days before it. */
const baseTime = new Date(Math.floor(Date.now() / 1000) * 1000 - 60_000);
let env: TestEnvironment;
let simulator: ProvinceSimulator;
let fleet: FleetProcess | null = null;
let port: number;
let adminKey: { id: string; key: string };

const backfillRun = () => env.db.selectFrom('backfill_runs').selectAll().executeTakeFirst();

beforeAll(async () => {
  env = await createTestEnvironment();
  simulator = new ProvinceSimulator({
    provinces: ['79'],
    dossiersPerProvince: 2_000,
    seed: 21,
    baseTime,
    // Moved by hand (advance) only.
    paused: true,
    recordRequests: true,
  });
  const url = await simulator.start();
  await saveConnector(env.db, {
    id: 'sim-79',
    sourceProvinceCode: '79',
    sourceCodeSet: '2025',
    kind: 'national-rest',
    config: { baseUrl: url, pageSize: 200, lookbackSeconds: 3, rateLimit: { requestsPerSecond } },
    // Polls alone would take the whole limit: each run of a caught-up connector is one request.
    pollIntervalMs: 250,
  });
  // The live sync is caught up to the base time: its polls read only what changes from now on.
  await commitCursor(
    env.db,
    'sim-79',
    { before: null, after: { updatedSince: formatVietnamTime(baseTime), afterCode: null } },
    0,
  );
  adminKey = await createApiKey(env.db, 'operators', 'admin', { actor: cliActor() });
  port = await sparePort();
  fleet = spawnFleet(['start', '--role', 'all'], {
    ...(env.config as unknown as Record<string, string>),
    LOG_LEVEL: 'warn',
    HTTP_PORT: String(port),
  });
  await waitFor(
    async () => {
      try {
        return (await fetch(`http://127.0.0.1:${port}/readyz`)).ok;
      } catch {
        return false;
      }
    },
    'the fleet answers',
    30_000,
    100,
  );
});
afterAll(async () => {
  fleet?.child.kill('SIGKILL');
  await simulator?.stop();
  await env?.cleanup();
});

it('never lets the source see more than the limit, and the live changes arrive while the backfill runs', async () => {
  const isBackfill = (url: string) => url.includes('updatedBefore=');
  await waitFor(
    () => simulator.requests.filter(({ url }) => !isBackfill(url)).length >= 4,
    'the fleet polls the connector',
  );
  const startedAt = Date.now();
  const started = await fetch(`http://127.0.0.1:${port}/v1/admin/connectors/sim-79/backfill`, {
    method: 'POST',
    headers: { authorization: `Bearer ${adminKey.key}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      from: new Date(baseTime.getTime() - 31 * 86_400_000).toISOString(),
      to: baseTime.toISOString(),
    }),
  });
  expect(started.status, await started.clone().text()).toBe(202);
  await waitFor(async () => ((await backfillRun())?.windows_done ?? 0) >= 1, 'the backfill past its first window');

  // Dossiers change at the source now (after the base time: outside the backfill's range, for the polls alone).
  expect(simulator.advance(3)).toBe(3);
  const changed = [...simulator.truth()].filter((row) => Date.parse(row.updatedAt) > baseTime.getTime());
  expect(changed).toHaveLength(3);
  await waitFor(async () => {
    const rows = await env.db
      .selectFrom('dossiers')
      .select(['dossier_code', 'status', 'source_version'])
      .where(
        'dossier_code',
        'in',
        changed.map(({ dossierCode }) => dossierCode),
      )
      .execute();
    return changed.every((truth) =>
      rows.some(
        (row) =>
          row.dossier_code === truth.dossierCode &&
          row.status === truth.status &&
          Number(row.source_version) === truth.version,
      ),
    );
  }, 'the changed dossiers in the copy');
  // Not starved: the live changes are in while the backfill is still reading.
  expect(await backfillRun()).toMatchObject({ status: 'running' });

  await waitFor(async () => (await backfillRun())?.status === 'done', 'the backfill done', 60_000);
  const endedAt = Date.now();
  expect(await compareWithTruth(env.db, simulator)).toMatchObject({
    expected: 2_000,
    missing: 0,
    different: 0,
    extra: 0,
  });
  expect(await duplicateHistoryRows(env.db)).toBe(0);

  const during = simulator.requests.filter(({ at }) => at >= startedAt && at <= endedAt);
  const backfillRequests = during.filter(({ url }) => isBackfill(url)).length;
  const pollRequests = during.length - backfillRequests;
  // Both asked all along: 31 windows of at least one request each, and polls meanwhile.
  expect(backfillRequests).toBeGreaterThanOrEqual(31);
  expect(pollRequests).toBeGreaterThanOrEqual(5);
  // The gate spaces request starts by 1/rate across every client of the connector: in any 3 s, at most
  // 3 × rate + 1 starts, and 2 more for the time a request takes from the gate to the source. Two gates of their own
  // (polls and backfill each at the rate) would let about twice as many through.
  const spanMs = 3000;
  const allowed = (spanMs / 1000) * requestsPerSecond + 1 + 2;
  const times = simulator.requests.map(({ at }) => at).sort((a, b) => a - b);
  let busiest = 0;
  for (let i = 0, j = 0; i < times.length; i++) {
    while (j < times.length && times[j]! < times[i]! + spanMs) j++;
    busiest = Math.max(busiest, j - i);
  }
  expect(busiest).toBeLessThanOrEqual(allowed);
  // Over the whole backfill too: no more than the rate allows.
  const seconds = (endedAt - startedAt) / 1000;
  expect(during.length).toBeLessThanOrEqual(Math.ceil(seconds * requestsPerSecond) + 3);
});
