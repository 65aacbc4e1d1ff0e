import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Kysely } from 'kysely';
import type { ApiKeyScope } from '../control-plane/api-key-store.js';
import { VerifiedKeyCache, type VerifiedKeyCacheOptions } from '../control-plane/verified-key-cache.js';
import type { Database } from '../../db/schema.js';
import { problem, sendProblem } from './problem.js';

/** The key a request was let through with: who asks, for per-key limits and logs. Never the key itself. */
export interface VerifiedApiKey {
  /** The key's id (`api_keys.id`), as `fleet apikey list` shows it. */
  id: string;
  /** The name it was created with, e.g. `portal`. */
  name: string;
  scope: ApiKeyScope;
  /**
   * The current (2025) province codes the key is bound to: it reaches only their connectors, dossiers and statistics
   * (workers/control-plane/province-scope.ts). Null: a national key.
   */
  provinces: readonly string[] | null;
}

declare module 'fastify' {
  interface FastifyRequest {
    /**
     * The verified API key, set by {@link requireApiKey} before any later hook or handler of a route that needs one;
     * null on a route that does not.
     */
    apiKey: VerifiedApiKey | null;
  }
}

/** Declares `request.apiKey` on `scope` (once per server; null until a key is verified). */
export function decorateApiKey(scope: FastifyInstance): void {
  if (!scope.hasRequestDecorator('apiKey')) scope.decorateRequest('apiKey', null);
}

/**
 * An `onRequest` hook: the request must carry `Authorization: Bearer <key>` with a key of `scope` that is not
 * revoked; the key is then `request.apiKey`. No key, an unknown or a revoked key → 401 `unauthorized`; a key
 * without the scope → 403 `forbidden`. The scope's instance must have {@link decorateApiKey}. A valid key is
 * remembered for a few seconds (`VerifiedKeyCache`: a revoked one is refused within 10 s).
 */
export function requireApiKey(db: Kysely<Database>, scope: ApiKeyScope, cache: VerifiedKeyCacheOptions = {}) {
  const keys = new VerifiedKeyCache(db, cache);
  const challenge = `Bearer realm="dossier-sync ${scope}"`;
  const refuse = (reply: FastifyReply, detail: string, invalid: boolean) =>
    sendProblem(
      reply.header('www-authenticate', invalid ? `${challenge}, error="invalid_token"` : challenge),
      problem('unauthorized', detail),
    );

  return async (request: FastifyRequest, reply: FastifyReply) => {
    const header = request.headers.authorization;
    if (header === undefined || header.trim() === '') {
      return refuse(
        reply,
        `this API needs an API key with scope ${scope}: send the header "Authorization: Bearer <key>" (keys come from fleet apikey create)`,
        false,
      );
    }
    const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
    if (!match) return refuse(reply, 'the Authorization header is not "Bearer <key>"', true);
    const verification = await keys.verify(match[1]!);
    if (verification.status === 'unknown')
      return refuse(reply, 'the API key is not valid; expected a key from fleet apikey create', true);
    if (verification.status === 'revoked')
      return refuse(reply, 'the API key was revoked; ask an operator for a new one', true);
    if (verification.scope !== scope) {
      return sendProblem(
        reply,
        problem(
          'forbidden',
          `API key ${verification.id} has scope ${verification.scope}; this API needs a key with scope ${scope}`,
        ),
      );
    }
    request.apiKey = {
      id: verification.id,
      name: verification.name,
      scope: verification.scope,
      provinces: verification.provinces,
    };
  };
}
