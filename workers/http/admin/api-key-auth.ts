import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Kysely } from 'kysely';
import { verifyApiKey, type ApiKeyScope } from '../../control-plane/api-key-store.js';
import type { Database } from '../../../db/schema.js';
import { problem, sendProblem } from '../problem.js';

/**
 * An `onRequest` hook: the request must carry `Authorization: Bearer <key>` with a key of `scope` that is not
 * revoked. No key, an unknown or a revoked key → 401 `unauthorized`; a key without the scope → 403 `forbidden`.
 */
export function requireApiKey(db: Kysely<Database>, scope: ApiKeyScope) {
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
    const verification = await verifyApiKey(db, match[1]!);
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
  };
}
