import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import type { Database } from '../../../db/schema.js';
import type { Logger } from '../../logger.js';
import { guardApi } from '../api-guard.js';
import { problemErrorHandler } from '../problem-handlers.js';
import type { ApiRateLimitHook } from '../rate-limit/api-rate-limit.js';

/** What the read API needs. */
export interface ReadApiOptions {
  db: Kysely<Database>;
  logger?: Logger;
  /** The per-key rate limit; none: not limited. */
  rateLimit?: ApiRateLimitHook;
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
}
