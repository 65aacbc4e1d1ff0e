import Fastify, { type FastifyInstance } from 'fastify';
import { requestErrors, type RequestErrorCode } from '../../config/error-catalogue.js';
import type { BackgroundErrors } from '../background-error-reporter.js';
import type { FleetMetrics } from '../metrics.js';
import { adminApi, type AdminApiOptions } from './admin/admin-api.js';
import { registerOpenApi } from './openapi.js';
import { readApi, type ReadApiOptions } from './read/read-api.js';
import { webhookRoutes, type WebhookRoutesOptions } from './webhooks/webhook-routes.js';

/** The catalogue's codes of a dependency that did not answer. */
export type ReadinessFailureCode = Extract<RequestErrorCode, 'postgres_unreachable' | 'redis_unreachable'>;

/** A dependency the readiness check asks. */
export interface ReadinessCheck {
  /** The dependency, e.g. `postgres`. */
  name: string;
  /** Stable machine code of its failure, e.g. `postgres_unreachable`. */
  code: ReadinessFailureCode;
  /** Short fixed words shown when it fails; the raw error (hosts, users, server messages) goes to the log only. */
  reason: string;
  /** Resolves when the dependency answers. */
  check(): Promise<void>;
}

/** One dependency's line in the `/readyz` answer. */
export interface ReadinessResult {
  name: string;
  ok: boolean;
  /** `ok`, or the check's failure code. */
  code: string;
  reason: string;
}

/** Options of the HTTP server. */
export interface HttpServerOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  metrics: FleetMetrics;
  /** Checked by /readyz. */
  readiness: ReadinessCheck[];
  /** How long /readyz waits for each check before it counts as failed. Default 5000 ms. */
  readinessTimeoutMs?: number;
  /** Where a failed check's raw error is told (logged, rate-limited, and counted). */
  errors: BackgroundErrors;
  /** The admin API (`/v1/admin`, API keys with scope admin): served by the gateway role only. */
  admin?: AdminApiOptions;
  /** The read API of the national portal (`/v1/dossiers`, `/v1/stats`, scope portal:read): gateway role only. */
  read?: ReadApiOptions;
  /** Webhooks (`POST /v1/webhooks/{connectorId}`, Standard Webhooks signatures): served by the gateway role only. */
  webhooks?: WebhookRoutesOptions;
}

/**
 * The HTTP side of a fleet process: `/metrics` for Prometheus, `/healthz` (the process is alive) and
 * `/readyz` (Postgres and Redis answer); with the gateway role, the admin API under `/v1/admin` and webhooks
 * under `/v1/webhooks`; the read API under `/v1`, and the OpenAPI document of them all at `/v1/openapi.json`.
 */
export async function startHttpServer(options: HttpServerOptions): Promise<{ server: FastifyInstance; url: string }> {
  const server = Fastify({ logger: false });
  await registerOpenApi(server);

  server.get('/metrics', async (_request, reply) => {
    reply.header('content-type', options.metrics.registry.contentType);
    return options.metrics.registry.metrics();
  });

  server.get(
    '/healthz',
    { schema: { response: { 200: { type: 'object', properties: { status: { type: 'string' } } } } } },
    async () => ({
      status: 'ok',
    }),
  );

  const timeoutMs = options.readinessTimeoutMs ?? 5_000;
  // Anyone may ask /readyz (a load balancer, a probe): it says which dependency is down and nothing more.
  const ask = async ({ name, code, reason, check }: ReadinessCheck): Promise<ReadinessResult> => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      await Promise.race([check(), timeout]);
      return { name, ok: true, code: 'ok', reason: `${name} answered` };
    } catch (error) {
      options.errors.report(
        { component: 'readiness', kind: code, level: 'warn', message: `readiness check failed: ${reason}` },
        error,
        { check: name },
      );
      return { name, ok: false, code, reason };
    } finally {
      clearTimeout(timer);
    }
  };

  server.get('/readyz', async (_request, reply) => {
    const results = await Promise.all(options.readiness.map(ask));
    const ready = results.every((result) => result.ok);
    return reply
      .code(ready ? 200 : requestErrors.not_ready.status)
      .send({ status: ready ? 'ready' : 'not_ready', checks: results });
  });

  if (options.admin) await server.register(adminApi, { ...options.admin, prefix: '/v1/admin' });
  if (options.read) await server.register(readApi, { ...options.read, prefix: '/v1' });
  if (options.webhooks) await server.register(webhookRoutes, { ...options.webhooks, prefix: '/v1/webhooks' });

  const url = await server.listen({ host: options.host, port: options.port });
  return { server, url };
}
