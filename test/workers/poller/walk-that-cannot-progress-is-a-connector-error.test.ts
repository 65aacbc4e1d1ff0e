import { afterAll, beforeAll, expect, it } from 'vitest';
import { parseDefinition } from '../../../workers/control-plane/definition.js';
import { findConnectorStatus, saveConnector } from '../../../db/queries/connectors.js';
import { startFleet, roles, type Fleet } from '../../../workers/fleet.js';
import { createLogger } from '../../../workers/logger.js';
import { createTestEnvironment, waitFor, type TestEnvironment } from '../../support/test-environment.js';
import { LongSourceServer, longSourceRecords, type LongSourceOptions } from './long-source-server.js';

// A walk that reads pages but gets nowhere — a system that ignores the page parameter and serves its first page
// for every page number, or whose tokens lead back to a page already read — would be read for ever while the
// connector looked healthy. It is the connector's error, with what to check; no run of it counts as a success.

const sources: {
  id: string;
  province: string;
  options: Omit<LongSourceOptions, 'records'>;
  query: Record<string, string>;
  pagination: unknown;
}[] = [
  {
    id: 'ignores-page',
    province: '01',
    options: { pagination: 'pageNumber', fault: 'ignoresPage' },
    query: { page: '{{page}}', size: '{{pageSize}}' },
    pagination: { type: 'pageNumber', pageSize: 2, firstPage: 1 },
  },
  {
    id: 'token-cycle',
    province: '79',
    options: { pagination: 'cursorToken', fault: 'tokenCycle' },
    query: { token: '{{token}}', size: '{{pageSize}}' },
    pagination: { type: 'cursorToken', path: 'next', pageSize: 2 },
  },
];
const servers: LongSourceServer[] = [];
let env: TestEnvironment;
let fleet: Fleet;

beforeAll(async () => {
  env = await createTestEnvironment();
  for (const source of sources) {
    const server = new LongSourceServer({
      ...source.options,
      records: longSourceRecords(500, `${source.province}.2026`),
    });
    servers.push(server);
    await saveConnector(
      env.db,
      parseDefinition({
        id: source.id,
        province: { code: source.province },
        schedule: { pollIntervalSeconds: 2 },
        http: { baseUrl: await server.start() },
        request: { path: '/dossiers', query: source.query },
        pagination: source.pagination,
        records: { path: 'data.items' },
        fields: {
          dossierCode: 'code',
          status: 'state',
          sourceUpdatedAt: { path: 'updatedAt', format: 'yyyy-MM-ddTHH:mm:ss' },
        },
        statuses: { preset: 'english' },
        rateLimit: { requestsPerSecond: 1000 },
      }),
    );
  }
  fleet = await startFleet(env.config, roles, createLogger('silent'));
});
afterAll(async () => {
  await fleet?.stop();
  for (const server of servers) await server.stop();
  await env?.cleanup();
});

it('records a walk that serves the same records again as the connector error, never as a success', async () => {
  const failedRuns = async (id: string) =>
    Number(
      (await (await fetch(`${fleet.url}/metrics`)).text()).match(
        new RegExp(`dossier_sync_poll_runs_total\\{[^}]*connector="${id}"[^}]*outcome="failed"[^}]*\\} (\\d+)`),
      )?.[1] ?? 0,
    );
  for (const { id } of sources) await waitFor(async () => (await failedRuns(id)) >= 2, `two failed runs of ${id}`);

  const ignoresPage = await findConnectorStatus(env.db, 'ignores-page');
  expect(ignoresPage?.last_error).toMatch(
    /connector ignores-page: page 2 of this run holds the same 2 records as page 1, so the walk would never end; .*check the pagination settings/,
  );
  const tokenCycle = await findConnectorStatus(env.db, 'token-cycle');
  // The first run meets the circle at its fourth page; later ones carry the walk on inside the circle.
  expect(tokenCycle?.last_error).toMatch(
    /connector token-cycle: page [34] of this run holds the same 2 records as page [12], so the walk would never end/,
  );
  for (const status of [ignoresPage, tokenCycle]) expect(status?.last_success_at ?? null).toBeNull();
  // The error message names no record: codes and personal data stay out of it.
  expect(`${ignoresPage?.last_error} ${tokenCycle?.last_error}`).not.toMatch(/2026\./);
});
