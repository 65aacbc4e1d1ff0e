import type { Kysely } from 'kysely';
import { z } from 'zod';
import type { Database } from '../../../db/schema.js';
import { keyNameProblem, keyProvinceList, keyProvinceProblems, seesKey } from '../../control-plane/api-key-rules.js';
import {
  apiKeyScopes,
  createApiKey,
  findApiKey,
  listApiKeys,
  revokeApiKey,
} from '../../control-plane/api-key-store.js';
import { apiKeyView } from '../../control-plane/api-key-view.js';
import { holdingPhrase, isProvinceBound, notHeldDetail } from '../../control-plane/province-scope.js';
import { jsonResponse, type ZodApi } from '../openapi.js';
import { problem, problemResponses, sendProblem } from '../problem.js';
import { isoTime } from './connector-routes.js';
import { requestActor } from './request-actor.js';

// `/v1/admin/api-keys`: what `fleet apikey list / create / revoke` do, for a key. A national key manages every key;
// a province key only keys bound to some of its own provinces: it lists those, creates those, revokes those, and
// any other key (national, or holding another province) answers as an unknown one. A new key is shown once, in the
// answer to its creation: never logged, never in the audit trail; only its hash is stored.

const tags = ['admin: API keys'];
const security = [{ apiKey: [] }];

const apiKey = z
  .object({
    id: z.string(),
    name: z.string().describe('who uses the key'),
    scope: z.enum(apiKeyScopes).describe('admin: the admin API; portal:read: the read API'),
    provinces: z
      .array(z.string())
      .nullable()
      .describe('the current (2025) province codes the key is bound to; null: a national key'),
    createdAt: isoTime,
    lastUsedAt: isoTime.nullable().describe('to the minute'),
    revokedAt: isoTime.nullable(),
  })
  .meta({ id: 'ApiKey', description: 'a key of the admin or read API: never the key itself nor its hash' });

const creationBody = z
  .object({
    name: z
      .string()
      .trim()
      .superRefine((name, context) => {
        const wrong = keyNameProblem(name);
        if (wrong) context.addIssue({ code: 'custom', message: wrong });
      })
      .describe('who uses the key: 1 to 100 characters'),
    scope: z
      .enum(apiKeyScopes, { error: `expected one of ${apiKeyScopes.join(', ')}` })
      .describe('admin: the admin API; portal:read: the read API'),
    provinces: z
      .array(z.string())
      .min(1, { error: 'expected at least one province code; leave provinces out for a national key' })
      .max(34)
      .superRefine((codes, context) => {
        const wrong = keyProvinceProblems(codes);
        if (wrong.length > 0)
          context.addIssue({ code: 'custom', message: `${wrong.join('; ')}; expected current (2025) codes` });
      })
      .optional()
      .describe(
        'current (2025) province codes the key is bound to; left out: a national key (only a national key may create one)',
      ),
  })
  .meta({ id: 'ApiKeyCreation', description: 'a new key: who uses it, its scope, and the provinces it is bound to' });

const keyIdParams = z.object({
  id: z
    .string()
    .regex(/^[1-9]\d{0,17}$/, { error: 'expected an API key id: a number' })
    .describe('the key id'),
});

/** Registers the API key routes on the admin API: list, create, revoke. */
export function registerApiKeyRoutes(api: ZodApi, db: Kysely<Database>): void {
  api.get(
    '/api-keys',
    {
      schema: {
        summary: 'API keys the key sees (a province key: keys bound to some of its provinces), oldest first',
        tags,
        security,
        response: { 200: jsonResponse('the keys, never a key itself', z.object({ apiKeys: z.array(apiKey) })) },
      },
    },
    async (request) => ({
      apiKeys: (await listApiKeys(db)).filter((row) => seesKey(request.apiKey, row)).map(apiKeyView),
    }),
  );

  api.post(
    '/api-keys',
    {
      schema: {
        summary: 'Creates an API key, shown this once; recorded in the audit trail (never the key)',
        tags,
        security,
        body: creationBody,
        response: {
          201: jsonResponse(
            'the new key, shown this once (Cache-Control: no-store)',
            z.object({
              apiKey,
              key: z.string().describe('the key (dsk_…): shown this once, only its hash is stored; keep it now'),
            }),
          ),
          ...problemResponses(403),
        },
      },
    },
    async (request, reply) => {
      const { name, scope } = request.body;
      const provinces = request.body.provinces === undefined ? null : keyProvinceList(request.body.provinces);
      // A province key creates keys within its own provinces only: no national key, no province it does not hold.
      // Scope is no step up: the admin scope this key has is the highest there is.
      const asking = request.apiKey;
      if (isProvinceBound(asking)) {
        if (provinces === null)
          return sendProblem(
            reply,
            problem('forbidden', `${holdingPhrase(asking)}; a key it creates must be bound to some of them`),
          );
        const foreign = provinces.find((code) => !asking.provinces.includes(code));
        if (foreign !== undefined) return sendProblem(reply, problem('forbidden', notHeldDetail(asking, foreign)));
      }
      const { id, key } = await createApiKey(db, name, scope, { actor: requestActor(request), provinces });
      void reply.code(201).header('cache-control', 'no-store');
      return { apiKey: apiKeyView((await findApiKey(db, id))!), key };
    },
  );

  api.post(
    '/api-keys/:id/revoke',
    {
      schema: {
        summary: 'Revokes an API key: refused from now on; recorded in the audit trail',
        tags,
        security,
        params: keyIdParams,
        response: {
          200: jsonResponse(
            'the key, revoked',
            z.object({
              apiKey,
              revoked: z.boolean().describe('false: it was revoked already (revokedAt is that first time)'),
            }),
          ),
          ...problemResponses(404),
        },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      // A key this one does not see is unknown to it, in an unknown id's words.
      const row = await findApiKey(db, id);
      if (!row || !seesKey(request.apiKey, row))
        return sendProblem(reply, problem('not_found', `API key ${id} does not exist`));
      const before = await revokeApiKey(db, id, { actor: requestActor(request) });
      return { apiKey: apiKeyView((await findApiKey(db, id))!), revoked: before?.revoked_at === null };
    },
  );
}
