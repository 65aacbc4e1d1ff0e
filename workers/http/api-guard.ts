import type { FastifyInstance, FastifySchema } from 'fastify';
import type { Kysely } from 'kysely';
import type { ApiKeyScope } from '../control-plane/api-key-store.js';
import type { Database } from '../../db/schema.js';
import { decorateApiKey, requireApiKey } from './api-key-auth.js';
import { problemResponses } from './problem.js';
import type { ApiRateLimitHook } from './rate-limit/api-rate-limit.js';

/** What guards an API's routes. */
export interface ApiGuardOptions {
  db: Kysely<Database>;
  /** The scope a key must have. */
  scope: ApiKeyScope;
  /** The per-key rate limit (`registerApiRateLimit`); none: not limited (a test's server). */
  rateLimit?: ApiRateLimitHook;
}

/**
 * Guards every route registered in `api` after this call: a key of the scope first (401, 403; the key is then
 * `request.apiKey`), then the key's rate limit (429), before the body is read. Each route's schema says so in the
 * OpenAPI document: `security`, and the 401, 403, 413 and 429 problems (400 too where it takes input), unless it
 * declares them itself.
 */
export function guardApi(api: FastifyInstance, options: ApiGuardOptions): void {
  decorateApiKey(api);
  api.addHook('onRequest', requireApiKey(options.db, options.scope));
  if (options.rateLimit) api.addHook('onRequest', options.rateLimit);
  api.addHook('onRoute', (route) => {
    const schema: FastifySchema = (route.schema ??= {});
    schema.security ??= [{ apiKey: [] }];
    const takesInput = [schema.params, schema.querystring, schema.body, schema.headers].some(Boolean);
    // 413: every route has a body limit, and a GET with any body is refused (http-server.ts).
    const statuses = [...(takesInput ? [400] : []), 401, 403, 413, ...(options.rateLimit ? [429] : [])];
    schema.response = { ...problemResponses(...statuses), ...(schema.response as object | undefined) };
  });
}
