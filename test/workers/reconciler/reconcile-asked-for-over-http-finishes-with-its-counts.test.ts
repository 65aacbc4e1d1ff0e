import { afterAll, beforeAll, expect, it } from 'vitest';
import { cliActor } from '../../../workers/control-plane/audit.js';
import { createApiKey } from '../../../workers/control-plane/api-key-store.js';
import { registerSimulatorConnector } from '../../support/connectors.js';
import { spawnFleet, type FleetProcess } from '../../support/fleet-process.js';
import { rangeFrom, rangeTo, syncedProvince, type SyncedProvince } from '../../support/reconcile.js';
import { waitFor } from '../../support/test-environment.js';
import { startGatewayServer, type GatewayServer } from '../http/gateway-server.js';

// The whole path of a reconcile asked for over HTTP: POST /v1/admin/connectors/{id}/reconcile on the gateway
// records it, a process of the reconciler role runs it (repairs through a running writer), and GET
// /v1/admin/reconcile-runs then shows it done with the counts of what was injected.

let province: SyncedProvince;
let gateway: GatewayServer;
let reconciler: FleetProcess | null = null;
let key: string;

beforeAll(async () => {
  province = await syncedProvince({ dossiersPerProvince: 4000 }, (db, url) =>
    registerSimulatorConnector(db, url, '79', { pageSize: 500 }),
  );
  gateway = await startGatewayServer(province.env);
  key = (await createApiKey(province.env.db, 'operators', 'admin', { actor: cliActor() })).key;
  // At info, so that a run that does not finish leaves its start, its phases and its warnings in the output.
  reconciler = spawnFleet(['start', '--role', 'reconciler'], { ...province.settings(), LOG_LEVEL: 'info' });
}, 120_000);
afterAll(async () => {
  reconciler?.child.kill('SIGKILL');
  await gateway?.close();
  await province?.stop();
});

interface RunView {
  id: string;
  status: string;
  mismatches: Record<string, number>;
  repaired: number;
  bucketsDone: number;
  bucketsTotal: number;
}

async function admin(method: string, path: string, body?: unknown): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`${gateway.url}/v1/admin${path}`, {
    method,
    headers: {
      authorization: `Bearer ${key}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, body: await response.json() };
}

it('a reconcile asked for over HTTP is run by the reconciler role and listed done with its counts', async () => {
  const changed = province.simulator.injectDrift('79', 'silent-change', { count: 9 });
  const deleted = province.simulator.injectDrift('79', 'delete', { count: 4 });
  expect(new Set([...changed.dossierCodes, ...deleted.dossierCodes]).size).toBe(13);

  const asked = await admin('POST', '/connectors/sim-79/reconcile', {
    from: rangeFrom.toISOString(),
    to: rangeTo.toISOString(),
  });
  expect(asked.status).toBe(202);
  const { run, created } = asked.body as { run: RunView; created: boolean };
  expect(created).toBe(true);
  expect(['requested', 'running']).toContain(run.status);

  let last: RunView | undefined;
  await waitFor(
    async () => {
      const listed = await admin('GET', '/reconcile-runs?connector=sim-79');
      last = (listed.body as { runs: RunView[] }).runs.find((item) => item.id === run.id);
      return last?.status === 'done';
    },
    'the run asked for over HTTP to be done',
    100_000,
    500,
  ).catch((error: unknown) => {
    // Where it waited: the run as listed, and what the reconciler process said (a CI run once timed out here).
    throw new Error(
      `${error instanceof Error ? error.message : String(error)}; the run: ${JSON.stringify(last)}; the reconciler's output ends: ${reconciler?.output().slice(-4000)}`,
    );
  });
  expect(last).toMatchObject({
    status: 'done',
    mismatches: { missingHere: 0, extraHere: 4, differentVersion: 9, differentState: 0 },
    repaired: 9,
  });
  expect(last!.bucketsDone).toBe(last!.bucketsTotal);
}, 150_000);
