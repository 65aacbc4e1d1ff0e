import Fastify, { type FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { requestErrors, type RequestErrorCode } from '../../config/error-catalogue.js';
import type { BackgroundErrors } from '../background-error-reporter.js';
import type { Logger } from '../logger.js';
import type { FleetMetrics } from '../metrics.js';
import { adminApi, type AdminApiOptions } from './admin/admin-api.js';
import { queueBoard, queueBoardPath, type QueueBoardOptions } from './admin/queue-board.js';
import { decorateApiKey } from './api-key-auth.js';
import { jsonResponse, registerOpenApi } from './openapi.js';
import { frameworkErrorProblem, notFoundProblem, problemErrorHandler } from './problem-handlers.js';
import { problem, sendProblem } from './problem.js';
import { ReadinessFailure } from './readiness-failure.js';
import { registerApiRateLimit, type ApiRateLimitOptions } from './rate-limit/api-rate-limit.js';
import { readApi, type ReadApiOptions } from './read/read-api.js';
import { webhookRoutes, type WebhookRoutesOptions } from './webhooks/webhook-routes.js';

/** The catalogue's codes of a dependency that did not answer. */
export type ReadinessFailureCode = Extract<
  RequestErrorCode,
  'postgres_unreachable' | 'redis_unreachable' | 'migrations_pending'
>;

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

/** The `/readyz` answer: ready or not, and each dependency's line. */
const readiness = z
  .object({
    status: z.enum(['ready', 'not_ready']),
    checks: z.array(
      z.object({
        name: z.string().describe('the dependency, e.g. postgres'),
        ok: z.boolean(),
        code: z
          .string()
          .describe('ok, or the failure code: postgres_unreachable, redis_unreachable, migrations_pending'),
        reason: z.string().describe('short fixed words; what the dependency said goes to the log only'),
      }),
    ),
  })
  .meta({ id: 'Readiness', description: 'whether the process can serve: each dependency it needs, answered or not' });

/**
 * Largest body of a route that declares no limit of its own (fastify's default is 1 MiB): only the 404 answers and
 * other methods of a known path read one. The admin API (256 KiB) and webhooks (WEBHOOK_BODY_LIMIT_BYTES) set theirs.
 */
export const defaultBodyLimitBytes = 16 * 1024;

/** Options of the HTTP server. */
export interface HttpServerOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  metrics: FleetMetrics;
  /** Checked by /health/ready (and its older path /readyz). */
  readiness: ReadinessCheck[];
  /** How long /readyz waits for each check before it counts as failed. Default 5000 ms. */
  readinessTimeoutMs?: number;
  /** Where a failed check's raw error is told (logged, rate-limited, and counted); a rate limit's Redis failure too. */
  errors: BackgroundErrors;
  /** Where a fault of ours in a request (a 500) is logged. Default: nowhere. */
  logger?: Logger;
  /** The admin API (`/v1/admin`, API keys with scope admin): served by the gateway role only. */
  admin?: Omit<AdminApiOptions, 'rateLimit'>;
  /** The queue UI (bull-board under `/admin/queues`, national admin keys only): gateway role only. */
  queueBoard?: Omit<QueueBoardOptions, 'rateLimit'>;
  /** The read API of the national portal (`/v1/dossiers`, `/v1/stats`, scope portal:read): gateway role only. */
  read?: Omit<ReadApiOptions, 'rateLimit'>;
  /**
   * The per-key rate limit of the admin and read APIs, held in Redis: the gateway role always has it. Default: none,
   * not limited (a test's server).
   */
  rateLimit?: ApiRateLimitOptions;
  /** Webhooks (`POST /v1/webhooks/{connectorId}`, Standard Webhooks signatures): served by the gateway role only. */
  webhooks?: WebhookRoutesOptions;
}

/**
 * The HTTP side of a fleet process: `/metrics` for Prometheus, `/health/live` (the process is alive) and
 * `/health/ready` (Postgres and Redis answer, migrations applied; `/healthz` and `/readyz` are their older
 * paths); with the gateway role, the admin API under `/v1/admin` and webhooks under `/v1/webhooks`; the read API
 * under `/v1`, and the OpenAPI document of them all at `/v1/openapi.json`.
 */
export async function startHttpServer(options: HttpServerOptions): Promise<{ server: FastifyInstance; url: string }> {
  const server = Fastify({ logger: false, frameworkErrors: frameworkErrorProblem, bodyLimit: defaultBodyLimitBytes });
  await registerOpenApi(server);
  // fastify never reads the body of a GET or HEAD (health, metrics, the document, the read API, admin lookups): one
  // sent anyway is refused here, before any key check, rather than drained unread.
  server.addHook('onRequest', async (request, reply) => {
    if (request.method !== 'GET' && request.method !== 'HEAD') return;
    const length = request.headers['content-length'];
    if ((length === undefined || length === '0') && request.headers['transfer-encoding'] === undefined) return;
    return sendProblem(
      reply,
      problem(
        'payload_too_large',
        `${request.method} ${request.url.split('?')[0]} takes no request body; send the parameters in the URL`,
      ),
    );
  });
  // RED of the read API: its GET routes under /v1 (not admin, not the document); an error is a 5xx of ours.
  server.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? '';
    if (
      request.method !== 'GET' ||
      !route.startsWith('/v1/') ||
      route.startsWith('/v1/admin') ||
      route.includes('openapi')
    )
      return;
    options.metrics.operationDuration.observe(
      { stage: 'read_api', outcome: reply.statusCode >= 500 ? 'error' : 'ok' },
      reply.elapsedTime / 1000,
    );
  });
  decorateApiKey(server);
  server.setNotFoundHandler(notFoundProblem('; the routes are in the OpenAPI document, GET /v1/openapi.json'));
  server.setErrorHandler(problemErrorHandler({ api: 'HTTP', logger: options.logger }));
  const rateLimit = options.rateLimit
    ? await registerApiRateLimit(server, options.rateLimit, options.errors)
    : undefined;
  const routes = server.withTypeProvider<ZodTypeProvider>();

  server.get('/metrics', { schema: { hide: true } }, async (_request, reply) => {
    reply.header('content-type', options.metrics.registry.contentType);
    return options.metrics.registry.metrics();
  });

  // Liveness answers from the event loop alone: a dependency outage must not get a healthy process restarted.
  const live = z.object({ status: z.literal('ok') }).meta({ id: 'Liveness', description: 'the process answers' });
  for (const path of ['/health/live', '/healthz'])
    routes.get(
      path,
      {
        schema: {
          summary:
            path === '/healthz'
              ? 'The process is alive (the older path of /health/live)'
              : 'The process is alive: 200 while its event loop runs, whatever its dependencies (Kubernetes liveness)',
          tags: ['health'],
          response: { 200: jsonResponse('the process is up', live) },
        },
      },
      async () => ({ status: 'ok' as const }),
    );

  const timeoutMs = options.readinessTimeoutMs ?? 5_000;
  // Anyone may ask /readyz (a load balancer, a probe): it says which dependency is down and nothing more.
  const ask = async ({ name, ...check }: ReadinessCheck): Promise<ReadinessResult> => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      await Promise.race([check.check(), timeout]);
      return { name, ok: true, code: 'ok', reason: `${name} answered` };
    } catch (failure) {
      const { code, reason } = failure instanceof ReadinessFailure ? failure : check;
      const error = failure instanceof ReadinessFailure ? failure.cause : failure;
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

  for (const path of ['/health/ready', '/readyz'])
    routes.get(
      path,
      {
        schema: {
          summary:
            path === '/readyz'
              ? 'Ready to serve (the older path of /health/ready)'
              : 'Postgres and Redis answer and the migrations are applied (Kubernetes readiness): 200 ready, ' +
                "or 503 with each failed check's code and fixed reason",
          tags: ['health'],
          response: {
            200: jsonResponse('every dependency answered', readiness),
            [requestErrors.not_ready.status]: jsonResponse('a dependency did not answer: which, by code', readiness),
          },
        },
      },
      async (_request, reply) => {
        const results = await Promise.all(options.readiness.map(ask));
        const ready = results.every((result) => result.ok);
        return reply
          .code(ready ? 200 : requestErrors.not_ready.status)
          .send({ status: ready ? 'ready' : 'not_ready', checks: results });
      },
    );

  if (options.admin) await server.register(adminApi, { ...options.admin, rateLimit, prefix: '/v1/admin' });
  if (options.queueBoard)
    await server.register(queueBoard, { ...options.queueBoard, rateLimit, prefix: queueBoardPath });
  if (options.read) await server.register(readApi, { ...options.read, rateLimit, prefix: '/v1' });
  if (options.webhooks) await server.register(webhookRoutes, { ...options.webhooks, prefix: '/v1/webhooks' });

  const url = await server.listen({ host: options.host, port: options.port });
  return { server, url };
}
