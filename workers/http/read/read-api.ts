import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import type { Database } from '../../../db/schema.js';
import type { Logger } from '../../logger.js';
import { decorateApiKey, requireApiKey } from '../api-key-auth.js';
import { problemErrorHandler } from '../problem-handlers.js';

/** What the read API needs. */
export interface ReadApiOptions {
  db: Kysely<Database>;
  logger?: Logger;
}

/**
 * The read API of the national portal, mounted under `/v1`: dossier lookups, the change feed and the statistics.
 * Every route needs an API key with scope `portal:read` (`request.apiKey` in its handler); every error is problem
 * details. Each route lives in its own file beside this one, with its zod schemas
 * (`api.withTypeProvider<ZodTypeProvider>()`); zod validates and serialises every route of the server.
 */
export async function readApi(api: FastifyInstance, options: ReadApiOptions): Promise<void> {
  decorateApiKey(api);
  api.addHook('onRequest', requireApiKey(options.db, 'portal:read'));
  api.setErrorHandler(problemErrorHandler({ api: 'read API', logger: options.logger }));
}
