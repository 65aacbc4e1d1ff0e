import { randomBytes } from 'node:crypto';
import { readFileSync, readdirSync, rmSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { bundleFleet } from '../../scripts/build-bundle.js';
import { createApiKey } from '../../workers/control-plane/api-key-store.js';
import { cliActor } from '../../workers/control-plane/audit.js';
import { runFleet, spawnFleet, type FleetProcess } from '../support/fleet-process.js';
import { sparePort } from '../support/own-services.js';
import { createTestEnvironment, waitFor, type TestEnvironment } from '../support/test-environment.js';

// The image runs the bundle `npm run build` makes (scripts/build-bundle.ts), not the checkout: the same verbs must
// work from it — those that read the files the bundle carries beside it (the province catalogue, the Lua scripts)
// and the gateway, whose queue board is served from its package in node_modules.

const root = fileURLToPath(new URL('../../', import.meta.url));
// Under the checkout, so that the packages left out of the bundle resolve from node_modules as in the image.
const outdir = join(root, '.test-build', `bundle-${randomBytes(4).toString('hex')}`);
const fleetScript = join(outdir, 'fleet.js');
let inputs: string[];
let env: TestEnvironment;
let gateway: FleetProcess | undefined;
const settings = () => ({ ...env.config, LOG_LEVEL: 'warn' }) as unknown as Record<string, string>;

beforeAll(async () => {
  inputs = Object.keys((await bundleFleet(outdir)).inputs);
  env = await createTestEnvironment();
}, 120_000);
afterAll(async () => {
  gateway?.killGroup('SIGKILL');
  await gateway?.exited;
  await env?.cleanup();
  rmSync(outdir, { recursive: true, force: true });
});

it('is a few files holding the production code path and its packages, none of the tools', () => {
  const scripts = readdirSync(outdir).filter((file) => file.endsWith('.js'));
  const ours = inputs.filter((file) => !file.includes('node_modules/')).map((file) => relative(root, file));
  expect(inputs.length).toBeGreaterThan(10 * scripts.length);
  expect(ours).toContain('workers/fleet.ts');
  expect(inputs.some((file) => file.includes('node_modules/bullmq/'))).toBe(true);
  expect(ours.filter((file) => file.startsWith('scripts/') && !file.startsWith('scripts/cli/'))).toEqual([]);
  expect(inputs.filter((file) => file.includes('@bull-board'))).toEqual([]);
});

it('answers its version and help, and runs a verb that reads the catalogue and the Lua scripts', async () => {
  const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
  const [shown, help, report] = await Promise.all([
    runFleet(['--version'], settings(), fleetScript),
    runFleet(['--help'], settings(), fleetScript),
    runFleet(['reconcile', '--report'], settings(), fleetScript),
  ]);
  expect(shown).toEqual({ code: 0, output: `${version}\n` });
  expect(help.code).toBe(0);
  expect(help.output).toMatch(/^ {2}reconcile\b/m);
  expect(help.output).not.toMatch(/^ {2}(simulate|demo|bench)\b/m);
  expect(report.code).toBe(0);
  expect(report.output).toMatch(/no reconcile runs/);
});

it('starts a gateway that serves the OpenAPI document and the queue board, and stops on SIGTERM with exit 0', async () => {
  const key = (await createApiKey(env.db, 'operators', 'admin', { actor: cliActor() })).key;
  const port = await sparePort();
  const base = `http://127.0.0.1:${port}`;
  gateway = spawnFleet(['start', '--role', 'gateway'], { ...settings(), HTTP_PORT: String(port) }, {}, fleetScript);
  await waitFor(
    async () => (await fetch(`${base}/health/ready`).catch(() => null))?.status === 200,
    'the bundled gateway ready',
    60_000,
  );
  const document = (await (await fetch(`${base}/v1/openapi.json`)).json()) as { openapi: string };
  expect(document.openapi).toMatch(/^3\.1/);
  const board = await fetch(`${base}/admin/queues`, { headers: { authorization: `Bearer ${key}` } });
  expect(board.status).toBe(200);
  expect(await board.text()).toMatch(/<html/i);
  gateway.killGroup('SIGTERM');
  expect(await gateway.exited).toBe(0);
  expect(gateway.output()).not.toMatch(/"level":(50|60)/);
}, 90_000);
