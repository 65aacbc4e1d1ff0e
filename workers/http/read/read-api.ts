import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import type { Database } from '../../../db/schema.js';
import type { Logger } from '../../logger.js';
import { guardApi } from '../api-guard.js';
import { problemErrorHandler } from '../problem-handlers.js';
import type { ApiRateLimitHook } from '../rate-limit/api-rate-limit.js';
import { registerDossierFeedRoute } from './dossier-feed-route.js';
import { registerDossierRoutes } from './dossier-routes.js';
import { registerStatsRoutes } from './stats-routes.js';

/** What the read API needs. */
export interface ReadApiOptions {
  db: Kysely<Database>;
  logger?: Logger;
  /** The per-key rate limit; none: not limited. */
  rateLimit?: ApiRateLimitHook;
  /** Change-feed cursors issued longer ago are answered 410 (`FEED_CURSOR_MAX_AGE_DAYS`). Default 30 days. */
  feedCursorMaxAgeDays?: number;
  /** The time deadlines are judged at and cursors issued at. Default: the system clock. */
  clock?: () => Date;
}

/**
 * The read API of the national portal, mounted under `/v1`: dossier lookups, the change feed and the statistics.
 * Every route needs an API key with scope `portal:read` (`request.apiKey` in its handler) and is rate-limited per
 * key; every error is problem details. Each route lives in its own file beside this one, with its zod schemas
 * (`api.withTypeProvider<ZodTypeProvider>()`); zod validates and serialises every route of the server.
 */
export async function readApi(api: FastifyInstance, options: ReadApiOptions): Promise<void> {
  guardApi(api, { db: options.db, scope: 'portal:read', rateLimit: options.rateLimit });
  api.setErrorHandler(problemErrorHandler({ api: 'read API', logger: options.logger }));
  const clock = options.clock ?? (() => new Date());

  registerDossierRoutes(api, { db: options.db, clock });
  registerDossierFeedRoute(api, { db: options.db, clock, cursorMaxAgeDays: options.feedCursorMaxAgeDays ?? 30 });
  registerStatsRoutes(api, { db: options.db });
}
