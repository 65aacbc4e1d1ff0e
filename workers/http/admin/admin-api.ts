import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Kysely } from 'kysely';
import type { Database } from '../../../db/schema.js';
import type { Logger } from '../../logger.js';
import type { IngestQueue } from '../../queue/ingest-queue.js';
import type { SecretBox } from '../../webhooks/secret-box.js';
import { guardApi } from '../api-guard.js';
import { notFoundProblem, problemErrorHandler } from '../problem-handlers.js';
import type { ApiRateLimitHook } from '../rate-limit/api-rate-limit.js';
import { registerApiKeyRoutes } from './api-key-routes.js';
import { registerAuditRoute } from './audit-route.js';
import { registerBackfillRoute } from './backfill-route.js';
import { registerConnectorRoutes, yamlTypes } from './connector-routes.js';
import { registerConnectorStatusRoute } from './connector-status-route.js';
import { registerDeadLetterRoutes } from './dead-letter-routes.js';
import { registerFailedBatchRoutes } from './failed-batch-routes.js';
import { registerReconcileRoutes } from './reconcile-routes.js';
import { registerWebhookSecretRoute } from './webhook-secret-route.js';

/** What the admin API needs. */
export interface AdminApiOptions {
  db: Kysely<Database>;
  /** Where a retried failed batch is queued for the writer (the gateway's own ingest queues). */
  ingest: IngestQueue;
  /** How long a failed-batch retry waits for Redis to acknowledge a batch (then 503 `queue_unavailable`); 10 s. */
  retryAckTimeoutMs?: number;
  logger?: Logger;
  /** The per-key rate limit; none: not limited. */
  rateLimit?: ApiRateLimitHook;
  /** Seals new webhook secrets (SECRETS_KEYS); none: rotating a secret answers 503 `webhooks_not_configured`. */
  secretBox?: SecretBox | null;
}

/** Largest body of an admin request: a connector definition is a few kilobytes. */
export const adminBodyLimitBytes = 256 * 1024;

/**
 * The admin API, mounted under `/v1/admin`: every route needs an API key with scope `admin`, and every error is
 * problem details. Registered with a prefix, so its hooks and handlers stay inside it.
 */
export async function adminApi(api: FastifyInstance, options: AdminApiOptions): Promise<void> {
  api.addContentTypeParser(yamlTypes, { parseAs: 'string' }, (_request, body, done) => done(null, body));
  guardApi(api, { db: options.db, scope: 'admin', rateLimit: options.rateLimit });
  api.addHook('onRoute', (route) => {
    route.bodyLimit ??= adminBodyLimitBytes;
  });

  api.setNotFoundHandler(notFoundProblem(' in the admin API'));
  api.setErrorHandler(
    problemErrorHandler({
      api: 'admin API',
      logger: options.logger,
      mediaTypes: 'application/json or application/yaml',
      bodyLimitHint: '; a connector definition is a few kilobytes',
    }),
  );

  const routes = api.withTypeProvider<ZodTypeProvider>();
  registerConnectorRoutes(routes, options.db);
  registerConnectorStatusRoute(routes, options.db);
  registerAuditRoute(routes, options.db);
  registerApiKeyRoutes(routes, options.db);
  registerBackfillRoute(routes, options.db);
  registerReconcileRoutes(routes, options.db);
  registerDeadLetterRoutes(routes, options.db);
  registerFailedBatchRoutes(routes, options.db, options.ingest, options.retryAckTimeoutMs);
  registerWebhookSecretRoute(routes, options.db, options.secretBox ?? null);
}
