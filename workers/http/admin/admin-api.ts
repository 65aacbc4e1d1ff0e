import type { FastifyError, FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import type { Database } from '../../../db/schema.js';
import type { Logger } from '../../logger.js';
import { problem, sendProblem } from '../problem.js';
import { requireApiKey } from './api-key-auth.js';
import { registerConnectorRoutes } from './connector-routes.js';
import { registerConnectorStatusRoute } from './connector-status-route.js';

/** What the admin API needs. */
export interface AdminApiOptions {
  db: Kysely<Database>;
  logger?: Logger;
}

/** Media types of a definition sent as YAML (JSON is parsed by fastify itself). */
const yamlTypes = ['application/yaml', 'application/x-yaml', 'text/yaml'];

/**
 * The admin API, mounted under `/v1/admin`: every route needs an API key with scope `admin`, and every error is
 * problem details. Registered with a prefix, so its hooks and handlers stay inside it.
 */
export async function adminApi(api: FastifyInstance, options: AdminApiOptions): Promise<void> {
  api.addContentTypeParser(yamlTypes, { parseAs: 'string' }, (_request, body, done) => done(null, body));
  api.addHook('onRequest', requireApiKey(options.db, 'admin'));

  api.setNotFoundHandler((request, reply) =>
    sendProblem(
      reply,
      problem('not_found', `there is no ${request.method} ${request.url.split('?')[0]} in the admin API`),
    ),
  );

  api.setErrorHandler((error: FastifyError, request, reply) => {
    if (error.validation) {
      const errors = error.validation.map(
        (issue) =>
          `${error.validationContext ?? 'request'}${issue.instancePath.replaceAll('/', '.')}: ${issue.message ?? 'is invalid'}`,
      );
      return sendProblem(reply, problem('invalid_request', errors.join('; '), { errors }));
    }
    const status = error.statusCode ?? 500;
    if (status === 415) {
      return sendProblem(
        reply,
        problem(
          'unsupported_media_type',
          `expected a body of type application/json or application/yaml, got ${request.headers['content-type'] ?? 'none'}`,
        ),
      );
    }
    if (status === 413)
      return sendProblem(
        reply,
        problem('payload_too_large', 'the body is too large; a connector definition is a few kilobytes'),
      );
    if (status >= 400 && status < 500) return sendProblem(reply, problem('bad_request', error.message, { status }));
    options.logger?.error({ err: error.message, method: request.method, url: request.url }, 'admin API request failed');
    return sendProblem(reply, problem('internal', 'the request failed on the server; the error is in the gateway log'));
  });

  registerConnectorRoutes(api, options.db);
  registerConnectorStatusRoute(api, options.db);
}
