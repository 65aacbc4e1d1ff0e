import type { FastifyInstance } from 'fastify';
import { BackgroundErrorReporter } from '../../../workers/background-error-reporter.js';
import { startHttpServer } from '../../../workers/http/http-server.js';
import type { ApiRateLimitOptions } from '../../../workers/http/rate-limit/api-rate-limit.js';
import { createLogger, type Logger } from '../../../workers/logger.js';
import { FleetMetrics } from '../../../workers/metrics.js';
import { openIngestQueue } from '../../../workers/queue/ingest-queue.js';
import { SecretBox } from '../../../workers/webhooks/secret-box.js';
import { createWebhooks } from '../../../workers/webhooks/webhooks.js';
import type { TestEnvironment } from '../../support/test-environment.js';

/** A gateway's HTTP server, as the fleet's gateway role builds it, with what it needs to close. */
export interface GatewayServer {
  server: FastifyInstance;
  url: string;
  metrics: FleetMetrics;
  close(): Promise<void>;
}

/**
 * Starts the HTTP server of the gateway role as workers/fleet.ts does — admin API, read API, webhooks, and the rate
 * limit when given — without the rest of the fleet, so a test can look at the server itself (its routes).
 */
export async function startGatewayServer(
  env: TestEnvironment,
  /** `secretBox`: what seals rotated webhook secrets; default the environment's SECRETS_KEY(S), if any. */
  options: { rateLimit?: ApiRateLimitOptions; logger?: Logger; secretBox?: SecretBox | null } = {},
): Promise<GatewayServer> {
  const logger = options.logger ?? createLogger('silent');
  const metrics = new FleetMetrics();
  const errors = new BackgroundErrorReporter(logger, { counter: metrics.backgroundErrors });
  const ingest = await openIngestQueue(env.config.REDIS_URL, env.config.QUEUE_PREFIX, errors);
  const webhooks = createWebhooks(env.config, env.db, ingest, metrics, logger, errors);
  const { server, url } = await startHttpServer({
    host: '127.0.0.1',
    port: 0,
    metrics,
    readiness: [],
    errors,
    logger,
    admin: {
      db: env.db,
      ingest,
      logger,
      secretBox: options.secretBox !== undefined ? options.secretBox : SecretBox.fromConfig(env.config),
    },
    read: { db: env.db, logger },
    webhooks: { intake: webhooks.intake, bodyLimit: webhooks.bodyLimit },
    ...(options.rateLimit ? { rateLimit: options.rateLimit } : {}),
  });
  return {
    server,
    url,
    metrics,
    async close() {
      await webhooks.close();
      await server.close();
      await ingest.close();
      errors.close();
    },
  };
}

/**
 * Every route the server serves, as `METHOD /path` with OpenAPI's `{param}` (HEAD, which fastify adds to every GET,
 * left out), read from fastify's own route tree.
 */
export function servedRoutes(server: FastifyInstance): string[] {
  const routes: string[] = [];
  const stack: string[] = [];
  for (const line of server.printRoutes({ commonPrefix: false }).split('\n')) {
    const match = /^((?:[│ ] {3})*)[├└]── (\S+)(?: \(([A-Z, ]+)\))?$/.exec(line);
    if (!match) continue;
    const depth = match[1]!.length / 4;
    stack.length = depth;
    stack.push(match[2]!);
    const path = stack.join('').replace(/:([A-Za-z0-9_]+)/g, '{$1}');
    for (const method of (match[3] ?? '').split(', ').filter(Boolean))
      if (method !== 'HEAD') routes.push(`${method} ${path}`);
  }
  return routes.sort();
}
