import type { FastifyError, FastifyInstance } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import type { Kysely } from 'kysely';
import type { Database } from '../../../db/schema.js';
import type { Logger } from '../../logger.js';
import { requireApiKey } from '../admin/api-key-auth.js';
import { useZodSchemas } from '../openapi.js';
import { problem, sendProblem } from '../problem.js';
import { registerStatsRoutes } from './stats-routes.js';

/** What the read API needs. */
export interface ReadApiOptions {
  db: Kysely<Database>;
  logger?: Logger;
}

/**
 * The read API of the national portal, mounted under `/v1`: dossier lookups, the change feed and the statistics.
 * Every route needs an API key with scope `portal:read`; every error is problem details. Each route lives in its own
 * file beside this one, with its zod schemas.
 */
export async function readApi(api: FastifyInstance, options: ReadApiOptions): Promise<void> {
  useZodSchemas(api);
  api.addHook('onRequest', requireApiKey(options.db, 'portal:read'));

  api.setErrorHandler((error: FastifyError, request, reply) => {
    if (hasZodFastifySchemaValidationErrors(error)) {
      const where = error.validationContext ?? 'request';
      const errors = error.validation.map(
        (issue) => `${where}${issue.instancePath.replaceAll('/', '.')}: ${issue.message ?? 'is invalid'}`,
      );
      return sendProblem(reply, problem('invalid_request', errors.join('; '), { errors }));
    }
    const status = error.statusCode ?? 500;
    if (status >= 400 && status < 500) return sendProblem(reply, problem('bad_request', error.message, { status }));
    options.logger?.error({ err: error.message, method: request.method, url: request.url }, 'read API request failed');
    return sendProblem(reply, problem('internal', 'the request failed on the server; the error is in the gateway log'));
  });

  registerStatsRoutes(api, { db: options.db });
}
