import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Kysely } from 'kysely';
import { z } from 'zod';
import type { Database } from '../../../db/schema.js';
import { ifNoneMatchMatches, strongEntityTag } from '../entity-tag.js';
import { jsonResponse } from '../openapi.js';
import { problem, problemResponses, sendProblem } from '../problem.js';
import { dossierBody, unknownParameters } from './dossier-schemas.js';
import { dossierView } from './dossier-view.js';
import { holds } from '../../control-plane/province-scope.js';
import { resolveRequestProvince } from './province-lookup.js';
import { DossierLookups } from './dossier-lookups.js';

// `GET /v1/dossiers/{provinceCode}/{dossierCode}`: one dossier for the citizen who asks, with its freshness, deadline
// standing and history; an ETag so the portal revalidates cheaply; a former province code redirected to the
// canonical URL.

/** What the lookup needs. */
export interface DossierRoutesOptions {
  db: Kysely<Database>;
  /** The time a standing is judged at. */
  clock: () => Date;
}

/**
 * The portal may keep an answer but must ask again before using it (`no-cache`): a status changes at any time.
 * Only the key holder's own cache may keep it (`private`): it was answered to an API key.
 */
const cacheControl = 'private, no-cache';

const params = z.object({
  provinceCode: z
    .string()
    .regex(/^\d{2}$/, { message: 'expected a two-digit province code, e.g. 01' })
    .describe('current (2025) province code; a former (2008) code is redirected (308)'),
  dossierCode: z
    .string()
    .min(1, { message: 'expected a dossier code' })
    .max(100, { message: 'expected a dossier code of at most 100 characters' })
    .describe('MaHoSo'),
});

const querystring = z.strictObject(
  {
    codeSet: z
      .enum(['2025', '2008'], { message: 'expected 2025 or 2008' })
      .optional()
      .describe(
        'the code set of provinceCode: default 2025, except that a code only the former set has is read as one; 2008 for a reused code meant as its former province (redirected)',
      ),
  },
  { error: (issue) => (issue.code === 'unrecognized_keys' ? unknownParameters(issue.keys, ['codeSet']) : undefined) },
);

const headers = z.object({
  'if-none-match': z
    .string()
    .optional()
    .describe('ETags of answers the portal holds (a list, or *): 304 when one is current'),
});

const notModified = z.null().meta({
  description: 'Not Modified: the ETag sent in If-None-Match is the current one; no body',
  headers: { etag: { type: 'string' }, 'cache-control': { type: 'string' } },
});
const redirect = z.null().meta({
  description:
    'Permanent Redirect: a former (2008) province code; Location is /v1/dossiers/{current code}/{dossierCode}',
  headers: { location: { type: 'string', description: 'the canonical URL of the dossier' } },
});

/** Registers the lookup on the read API. */
export function registerDossierRoutes(api: FastifyInstance, options: DossierRoutesOptions): void {
  // Concurrent lookups share statements (DossierLookups): one round trip answers many under load.
  const lookups = new DossierLookups(options.db);
  const base = `${api.prefix}/dossiers`;

  api.withTypeProvider<ZodTypeProvider>().get(
    '/dossiers/:provinceCode/:dossierCode',
    {
      schema: {
        summary: 'One dossier: its current status, freshness, deadline standing and history',
        description: `ETag (strong) from the dossier's state — and, for a dossier in progress, the Vietnam dates it is judged on, since it turns overdue with the date alone; If-None-Match → 304. Cache-Control: ${cacheControl}. A dossier filed under a former province is stored, and found, under its successor. For a province-bound key, a dossier of another province is answered 404 as one that does not exist.`,
        tags: ['dossiers'],
        security: [{ apiKey: [] }],
        params,
        querystring,
        headers,
        response: {
          200: jsonResponse('the dossier: its status, dates, freshness, deadline standing and history', dossierBody),
          304: notModified,
          308: redirect,
          ...problemResponses(404),
        },
      },
    },
    async (request, reply) => {
      const { provinceCode, dossierCode } = request.params;
      const province = resolveRequestProvince(provinceCode, request.query.codeSet);
      if (province.kind === 'unknown') return sendProblem(reply, province.problem);
      if (province.kind === 'former') {
        return reply.redirect(`${base}/${province.successor.code}/${encodeURIComponent(dossierCode)}`, 308);
      }

      // Another province's dossier is answered as one that does not exist, in the same words: a province key learns
      // nothing of dossiers it does not hold.
      const held = holds(request.apiKey, province.province.code);
      const stored = held ? await lookups.find(province.province.code, dossierCode) : undefined;
      if (!stored) {
        return sendProblem(
          reply,
          problem(
            'dossier_not_found',
            `no dossier ${JSON.stringify(dossierCode)} in province ${province.province.code} (${province.province.name}); expected its MaHoSo as the province system gave it`,
          ),
        );
      }

      const view = dossierView(stored, options.clock());
      const entityTag = strongEntityTag(String(view.sourceVersion), JSON.stringify(view));
      reply.header('etag', entityTag).header('cache-control', cacheControl);
      if (ifNoneMatchMatches(request.headers['if-none-match'], entityTag)) return reply.code(304).send(null);
      return reply.send(view);
    },
  );
}
