import { afterAll, beforeAll, expect, it } from 'vitest';
import { currentProvinces } from '../../../config/provinces.js';
import { createApiKey } from '../../../workers/control-plane/api-key-store.js';
import { cliActor } from '../../../workers/control-plane/audit.js';
import { ingestQueueName, queueNames } from '../../../workers/queue/queues.js';
import { spawnFleet, type FleetProcess } from '../../support/fleet-process.js';
import { sparePort } from '../../support/own-services.js';
import { createTestEnvironment, waitFor, type TestEnvironment } from '../../support/test-environment.js';

// bull-board lets an operator look into and retry any province's jobs: a real gateway process serves it under
// /admin/queues to a national admin key only — no key, a portal key or a province-bound admin key is refused — and
// it lists the poll queue and every province's ingest queue.

let env: TestEnvironment;
let fleet: FleetProcess;
let base: string;
const keys: Record<'national' | 'province' | 'portal', string> = { national: '', province: '', portal: '' };

const get = (path: string, key?: string) =>
  fetch(`${base}${path}`, { headers: key ? { authorization: `Bearer ${key}` } : {} });

beforeAll(async () => {
  env = await createTestEnvironment();
  keys.national = (await createApiKey(env.db, 'operators', 'admin', { actor: cliActor() })).key;
  keys.province = (await createApiKey(env.db, 'province 79', 'admin', { actor: cliActor(), provinces: ['79'] })).key;
  keys.portal = (await createApiKey(env.db, 'portal', 'portal:read', { actor: cliActor() })).key;
  const port = await sparePort();
  base = `http://127.0.0.1:${port}`;
  fleet = spawnFleet(['start', '--role', 'gateway'], { ...env.config, HTTP_PORT: port, LOG_LEVEL: 'warn' });
  await waitFor(
    async () => (await fetch(`${base}/health/ready`).catch(() => null))?.status === 200,
    'the gateway ready',
    60_000,
  );
}, 90_000);
afterAll(async () => {
  fleet?.killGroup('SIGKILL');
  await fleet?.exited;
  await env?.cleanup();
});

it('refuses no key 401, a portal key and a province admin key 403, before anything of the board is shown', async () => {
  for (const path of ['/admin/queues', '/admin/queues/api/queues']) {
    const none = await get(path);
    expect(none.status).toBe(401);
    expect(await none.json()).toMatchObject({ code: 'unauthorized' });
    for (const key of [keys.portal, keys.province]) {
      const refused = await get(path, key);
      expect(refused.status).toBe(403);
      expect(await refused.json()).toMatchObject({ code: 'forbidden' });
    }
  }
});

it('shows a national admin key the UI and lists the poll queue and every province ingest queue', async () => {
  const page = await get('/admin/queues', keys.national);
  expect(page.status).toBe(200);
  expect(page.headers.get('content-type')).toMatch(/text\/html/);
  expect(await page.text()).toMatch(/<html/i);

  const api = await get('/admin/queues/api/queues', keys.national);
  expect(api.status).toBe(200);
  const { queues } = (await api.json()) as { queues: { name: string }[] };
  const expected = [queueNames.poll, ...currentProvinces.map(({ code }) => ingestQueueName(code))];
  expect(queues.map((queue) => queue.name).sort()).toEqual(expected.sort());
});

it('keeps the board out of the OpenAPI document', async () => {
  const document = (await (await get('/v1/openapi.json')).json()) as { paths: Record<string, unknown> };
  expect(Object.keys(document.paths).filter((path) => path.startsWith('/admin'))).toEqual([]);
});
