import type { FastifyError, FastifyInstance } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import type { Kysely } from 'kysely';
import type { Database } from '../../../db/schema.js';
import type { Logger } from '../../logger.js';
import { requireApiKey } from '../admin/api-key-auth.js';
import { useZodSchemas } from '../openapi.js';
import { problem, sendProblem } from '../problem.js';
import { registerDossierFeedRoute } from './dossier-feed-route.js';
import { registerDossierRoutes } from './dossier-routes.js';

/** What the read API needs. */
export interface ReadApiOptions {
  db: Kysely<Database>;
  logger?: Logger;
  /** Change-feed cursors issued longer ago are answered 410 (`FEED_CURSOR_MAX_AGE_DAYS`). Default 30 days. */
  feedCursorMaxAgeDays?: number;
  /** The time deadlines are judged at and cursors issued at. Default: the system clock. */
  clock?: () => Date;
}

/**
 * The read API of the national portal, mounted under `/v1`: dossier lookups, the change feed and the statistics.
 * Every route needs an API key with scope `portal:read`; every error is problem details. Each route lives in its own
 * file beside this one, with its zod schemas.
 */
export async function readApi(api: FastifyInstance, options: ReadApiOptions): Promise<void> {
  useZodSchemas(api);
  api.addHook('onRequest', requireApiKey(options.db, 'portal:read'));
  const clock = options.clock ?? (() => new Date());

  registerDossierRoutes(api, { db: options.db, clock });
  registerDossierFeedRoute(api, { db: options.db, clock, cursorMaxAgeDays: options.feedCursorMaxAgeDays ?? 30 });

  api.setErrorHandler((error: FastifyError, request, reply) => {
    if (hasZodFastifySchemaValidationErrors(error)) {
      const where = error.validationContext ?? 'request';
      const errors = error.validation.map(
        // A whole-object issue (an unknown parameter of a strict query) has the path "/": name the part only.
        (issue) =>
          `${where}${issue.instancePath.replace(/^\/$/, '').replaceAll('/', '.')}: ${issue.message ?? 'is invalid'}`,
      );
      return sendProblem(reply, problem('invalid_request', errors.join('; '), { errors }));
    }
    const status = error.statusCode ?? 500;
    if (status >= 400 && status < 500) return sendProblem(reply, problem('bad_request', error.message, { status }));
    options.logger?.error({ err: error.message, method: request.method, url: request.url }, 'read API request failed');
    return sendProblem(reply, problem('internal', 'the request failed on the server; the error is in the gateway log'));
  });
}
