import Fastify, { type FastifyInstance } from 'fastify';
import type { FleetMetrics } from '../metrics.js';
import { adminApi, type AdminApiOptions } from './admin/admin-api.js';
import { webhookRoutes, type WebhookRoutesOptions } from './webhooks/webhook-routes.js';

/** A dependency the readiness check asks. */
export interface ReadinessCheck {
  name: string;
  check(): Promise<void>;
}

/** Options of the HTTP server. */
export interface GatewayOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  metrics: FleetMetrics;
  /** Checked by /readyz. */
  readiness: ReadinessCheck[];
  /** The admin API (`/v1/admin`, API keys with scope admin): served by the gateway role only. */
  admin?: AdminApiOptions;
  /** Webhooks (`POST /v1/webhooks/{connectorId}`, Standard Webhooks signatures): served by the gateway role only. */
  webhooks?: WebhookRoutesOptions;
}

/**
 * The HTTP side of a fleet process: `/metrics` for Prometheus, `/healthz` (the process is alive) and
 * `/readyz` (Postgres and Redis answer); with the gateway role, the admin API under `/v1/admin` and webhooks
 * under `/v1/webhooks`. The read API mounts here as it comes.
 */
export async function startGateway(options: GatewayOptions): Promise<{ server: FastifyInstance; url: string }> {
  const server = Fastify({ logger: false });

  server.get('/metrics', async (_request, reply) => {
    reply.header('content-type', options.metrics.registry.contentType);
    return options.metrics.registry.metrics();
  });

  server.get('/healthz', { schema: { response: { 200: { type: 'object', properties: { status: { type: 'string' } } } } } }, async () => ({
    status: 'ok',
  }));

  server.get('/readyz', async (_request, reply) => {
    const results = await Promise.all(
      options.readiness.map(async ({ name, check }) => {
        try {
          await check();
          return { name, ok: true };
        } catch (error) {
          return { name, ok: false, error: error instanceof Error ? error.message : String(error) };
        }
      }),
    );
    const ready = results.every((result) => result.ok);
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not_ready', checks: results });
  });

  if (options.admin) await server.register(adminApi, { ...options.admin, prefix: '/v1/admin' });
  if (options.webhooks) await server.register(webhookRoutes, { ...options.webhooks, prefix: '/v1/webhooks' });

  const url = await server.listen({ host: options.host, port: options.port });
  return { server, url };
}
