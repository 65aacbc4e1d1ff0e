import { afterAll, beforeAll, expect, it } from 'vitest';
import { sql } from 'kysely';
import { parseDefinition } from '../../../workers/control-plane/definition.js';
import { findConnectorStatus, saveConnector } from '../../../db/queries/connectors.js';
import { startFleet, roles, type Fleet } from '../../../workers/fleet.js';
import { createLogger } from '../../../workers/logger.js';
import { createTestEnvironment, waitFor, type TestEnvironment } from '../../support/test-environment.js';
import { LongSourceServer, longSourceRecords, type LongSourceOptions } from './long-source-server.js';

// A source without `incremental` has no update-time cursor to resume from: a poll run reads at most
// POLLER_MAX_PAGES_PER_RUN pages (200 by default, 40 here to keep the test short; the tied-backlog test walks past the
// default), so a source of 90 pages takes three runs, each continuing where the last committed page left the walk.

const pageSize = 2;
const pagesPerRun = 40;
const pages = 90;
const styles: {
  pagination: LongSourceOptions['pagination'];
  province: string;
  query: Record<string, string>;
  definition: unknown;
}[] = [
  {
    pagination: 'pageNumber',
    province: '01',
    query: { page: '{{page}}', size: '{{pageSize}}' },
    definition: { type: 'pageNumber', pageSize, firstPage: 1 },
  },
  {
    pagination: 'offset',
    province: '79',
    query: { offset: '{{offset}}', size: '{{limit}}' },
    definition: { type: 'offset', pageSize },
  },
  {
    pagination: 'cursorToken',
    province: '48',
    query: { token: '{{token}}', size: '{{pageSize}}' },
    definition: { type: 'cursorToken', path: 'next', pageSize },
  },
  {
    pagination: 'nextLink',
    province: '92',
    query: { size: '{{pageSize}}' },
    definition: { type: 'nextLink', from: 'body', path: 'links.next', pageSize },
  },
];
const servers = new Map<string, LongSourceServer>();
let env: TestEnvironment;
let fleet: Fleet;

beforeAll(async () => {
  env = await createTestEnvironment({ POLLER_MAX_PAGES_PER_RUN: String(pagesPerRun) });
  for (const style of styles) {
    const server = new LongSourceServer({
      records: longSourceRecords(pages * pageSize, `${style.province}.2026`),
      pagination: style.pagination,
    });
    servers.set(style.pagination, server);
    const definition = parseDefinition({
      id: `long-${style.pagination.toLowerCase()}`,
      province: { code: style.province },
      // One walk in this test: the next one would begin only after the test has ended.
      schedule: { pollIntervalSeconds: 3600 },
      http: { baseUrl: await server.start() },
      request: { path: '/dossiers', query: style.query },
      pagination: style.definition,
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
  }
  fleet = await startFleet(env.config, roles, createLogger('silent'));
});
afterAll(async () => {
  await fleet?.stop();
  for (const server of servers.values()) await server.stop();
  await env?.cleanup();
});

const stored = async (province: string) =>
  Number(
    (await sql<{ n: string }>`SELECT count(*) AS n FROM dossiers WHERE province_code = ${province}`.execute(env.db))
      .rows[0]!.n,
  );

it('syncs a source of 90 pages without incremental whole, 40 a run, in every pagination style, each page read once', async () => {
  await waitFor(
    async () => (await Promise.all(styles.map((style) => stored(style.province)))).every((n) => n === pages * pageSize),
    'every dossier of every source stored',
    180_000,
  );

  const metrics = await (await fetch(`${fleet.url}/metrics`)).text();
  for (const style of styles) {
    const server = servers.get(style.pagination)!;
    const id = `long-${style.pagination.toLowerCase()}`;
    // The walk took several runs, and no run began again from the first page.
    const continued = Number(
      metrics.match(
        new RegExp(`dossier_sync_poll_runs_total\\{[^}]*connector="${id}"[^}]*outcome="continued"[^}]*\\} (\\d+)`),
      )?.[1] ?? 0,
    );
    expect(continued, id).toBeGreaterThanOrEqual(2);
    expect(server.requestsAt(0), id).toBe(1);
    expect(new Set(server.positions).size, id).toBe(server.positions.length);
    // The walk is complete: the cursor holds no position to resume from, and the connector shows no error.
    const status = await findConnectorStatus(env.db, id);
    expect(status?.last_error ?? null, id).toBeNull();
    expect(status?.last_success_at, id).not.toBeNull();
    expect(status?.cursor_position, id).not.toHaveProperty('resume');
  }
}, 200_000);
