import { afterAll, beforeAll, expect, it } from 'vitest';
import { sql } from 'kysely';
import { parseDefinition } from '../../../workers/control-plane/definition.js';
import { saveConnector } from '../../../db/queries/connectors.js';
import { readCursor } from '../../../db/queries/sync-cursors.js';
import { spawnFleet, type FleetProcess } from '../../support/fleet-process.js';
import { createTestEnvironment, waitFor, type TestEnvironment } from '../../support/test-environment.js';
import { LongSourceServer, longSourceRecords } from './long-source-server.js';

// A fleet SIGKILLed in the middle of a walk of a source without `incremental`: the next fleet carries the walk on
// from the page after the last one committed, and never asks for the first page again.

const pageSize = 2;
const pages = 150;
let env: TestEnvironment;
let server: LongSourceServer;
let fleet: FleetProcess | null = null;

const stored = async () =>
  Number((await sql<{ n: string }>`SELECT count(*) AS n FROM dossiers`.execute(env.db)).rows[0]!.n);
const start = () =>
  spawnFleet(['start', '--role', 'all'], { ...env.config, LOG_LEVEL: 'warn' } as unknown as Record<string, string>);

beforeAll(async () => {
  env = await createTestEnvironment();
  // Slow answers: the walk is still going when the fleet is killed.
  server = new LongSourceServer({
    records: longSourceRecords(pages * pageSize, '01.2026'),
    pagination: 'pageNumber',
    delayMs: 40,
  });
  const definition = parseDefinition({
    id: 'hanoi-pages',
    province: { code: '01' },
    schedule: { pollIntervalSeconds: 2 },
    http: { baseUrl: await server.start() },
    request: { path: '/dossiers', query: { page: '{{page}}', size: '{{pageSize}}' } },
    pagination: { type: 'pageNumber', pageSize, firstPage: 1 },
    records: { path: 'data.items' },
    fields: {
      dossierCode: 'code',
      status: 'state',
      sourceUpdatedAt: { path: 'updatedAt', format: 'yyyy-MM-ddTHH:mm:ss' },
    },
    statuses: { preset: 'english' },
    rateLimit: { requestsPerSecond: 1000 },
  });
  await saveConnector(env.db, definition);
});
afterAll(async () => {
  fleet?.child.kill('SIGKILL');
  await server?.stop();
  await env?.cleanup();
});

it('carries the walk on from the committed position after a SIGKILL, without reading the first page again', async () => {
  fleet = start();
  await waitFor(async () => (await stored()) >= 40 * pageSize, 'forty pages stored before the kill');
  fleet.child.kill('SIGKILL');
  expect(await fleet.exited).toBe('SIGKILL');
  // A request the fleet sent just before it died may still be on its way to the server.
  await new Promise((resolve) => setTimeout(resolve, 1000));

  // The committed cursor says where the walk goes on: the page after the last one committed.
  const committed = (await readCursor(env.db, 'hanoi-pages')) as { pages: number; resume: { page: number } };
  const storedAtKill = await stored();
  expect(committed.resume.page).toBe(committed.pages + 1);
  expect(storedAtKill).toBe(committed.pages * pageSize);
  expect(storedAtKill).toBeLessThan(pages * pageSize);
  const requestsBeforeRestart = server.positions.length;

  fleet = start();
  await waitFor(async () => (await stored()) === pages * pageSize, 'every dossier stored after the restart');
  // The restarted fleet's first request asked for the page the committed cursor named, and the walk went on from there
  // to
  // its end (the empty page after the last) without asking for the first page again.
  const afterRestart = server.positions.slice(requestsBeforeRestart);
  const walkEnd = afterRestart.indexOf(pages * pageSize);
  // The killed fleet may have queued the next page's batch already: the restarted writer then commits it first,
  // and the walk goes on one page later — from the cursor as committed by then, never from the start.
  const named = (committed.resume.page - 1) * pageSize;
  expect([named, named + pageSize], `requests after the restart: ${afterRestart.slice(0, 5).join(', ')}…`).toContain(
    afterRestart[0],
  );
  expect(walkEnd).toBeGreaterThan(0);
  expect(afterRestart.slice(0, walkEnd + 1)).not.toContain(0);
  expect(server.positions.slice(0, requestsBeforeRestart).filter((position) => position === 0)).toHaveLength(1);

  fleet.child.kill('SIGTERM');
  expect(await fleet.exited).toBe(0);
}, 180_000);
