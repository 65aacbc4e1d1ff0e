import { cliActor } from '../../workers/control-plane/audit.js';
import type { Kysely } from 'kysely';
import type { Database } from '../../db/schema.js';
import { BackgroundErrorReporter } from '../../workers/background-error-reporter.js';
import { createApiKey } from '../../workers/control-plane/api-key-store.js';
import { startHttpServer } from '../../workers/http/http-server.js';
import type { ReadApiOptions } from '../../workers/http/read/read-api.js';
import { createLogger } from '../../workers/logger.js';
import { FleetMetrics } from '../../workers/metrics.js';

/** A real HTTP server with the read API on a test's database, and a portal:read key for it. */
export interface ReadApiServer {
  url: string;
  /** A key of scope portal:read. */
  key: string;
  /** GET a path (`/v1/...`) with the portal key; redirects are not followed. */
  get(path: string, headers?: Record<string, string>): Promise<Response>;
  close(): Promise<void>;
}

/** Starts the HTTP server with the read API (and nothing else) on `db`. */
export async function startReadApi(
  db: Kysely<Database>,
  options: Omit<ReadApiOptions, 'db'> = {},
): Promise<ReadApiServer> {
  const logger = createLogger('silent');
  const metrics = new FleetMetrics();
  const { server, url } = await startHttpServer({
    host: '127.0.0.1',
    port: 0,
    metrics,
    readiness: [],
    errors: new BackgroundErrorReporter(logger, { counter: metrics.backgroundErrors }),
    read: { db, logger, ...options },
  });
  const { key } = await createApiKey(db, `portal-${Math.random().toString(36).slice(2, 8)}`, 'portal:read', {
    actor: cliActor(),
  });
  return {
    url,
    key,
    get: (path, headers = {}) =>
      fetch(`${url}${path}`, { headers: { authorization: `Bearer ${key}`, ...headers }, redirect: 'manual' }),
    close: async () => {
      await server.close();
    },
  };
}

/** A controllable clock for the read API: `clock.now` is what it answers. */
export function testClock(start: string): { now: Date; read: () => Date; set(iso: string): void } {
  const clock = {
    now: new Date(start),
    read: () => clock.now,
    set(iso: string) {
      clock.now = new Date(iso);
    },
  };
  return clock;
}
