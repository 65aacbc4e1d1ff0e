import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Kysely } from 'kysely';
import { z } from 'zod';
import { listDossiers, type DossierFeedFilters, type FeedPosition } from '../../../db/queries/list-dossiers.js';
import type { Database } from '../../../db/schema.js';
import { problem, problemResponses, sendProblem } from '../problem.js';
import { dossierFeedPageBody, unknownParameters } from './dossier-schemas.js';
import { dossierSummaryView } from './dossier-view.js';
import { decodeFeedCursor, encodeFeedCursor, filtersFingerprint } from './feed-cursor.js';
import { holds, isProvinceBound, notHeldDetail } from '../../control-plane/province-scope.js';
import { resolveRequestProvince } from './province-lookup.js';
import { jsonResponse } from '../openapi.js';

// `GET /v1/dossiers`: the portal's change feed — keyset pages by (synced time, key) up to the change horizon, with
// an opaque cursor that always comes back, so the portal polls from where it stopped and misses nothing.

/** What the feed needs. */
export interface DossierFeedRouteOptions {
  db: Kysely<Database>;
  /** When a cursor is issued, and how old one is. */
  clock: () => Date;
  /** A cursor issued longer ago is answered 410 `cursor_expired` (`FEED_CURSOR_MAX_AGE_DAYS`). */
  cursorMaxAgeDays: number;
}

const maxLimit = 1000;
const parameters = ['province', 'status', 'updatedSince', 'cursor', 'limit'];

const querystring = z.strictObject(
  {
    province: z
      .string()
      .regex(/^\d{2}$/, { message: 'expected a two-digit current (2025) province code, e.g. 01' })
      .optional()
      .describe('only this current (2025) province'),
    status: z
      .string()
      .regex(/^(10|[1-9])(,(10|[1-9]))*$/, {
        message: 'expected national status codes 1 to 10, comma-separated, e.g. 4 or 4,5',
      })
      .optional()
      .describe('only dossiers now in one of these national statuses, e.g. 4 or 4,5'),
    updatedSince: z.iso
      .datetime({
        offset: true,
        message: 'expected an ISO 8601 time with its offset, e.g. 2026-12-01T00:00:00Z or 2026-12-01T07:00:00+07:00',
      })
      .optional()
      .describe('only dossiers synced at or after this time (inclusive)'),
    cursor: z
      .string()
      .max(2000, { message: 'expected a nextCursor of this feed' })
      .optional()
      .describe('the nextCursor of the previous page, sent with the same filters'),
    limit: z.coerce
      .number({ message: `expected a whole number from 1 to ${maxLimit}` })
      .int({ message: `expected a whole number from 1 to ${maxLimit}` })
      .min(1, { message: `expected a whole number from 1 to ${maxLimit}` })
      .max(maxLimit, { message: `expected a whole number from 1 to ${maxLimit}` })
      .default(100)
      .describe(`items per page, 1 to ${maxLimit}; default 100`),
  },
  { error: (issue) => (issue.code === 'unrecognized_keys' ? unknownParameters(issue.keys, parameters) : undefined) },
);

const restart = 'start again without a cursor, with updatedSince set to the syncedAt of the last item you stored';

/** Registers the change feed on the read API. */
export function registerDossierFeedRoute(api: FastifyInstance, options: DossierFeedRouteOptions): void {
  const maxAgeMs = options.cursorMaxAgeDays * 86_400_000;

  api.withTypeProvider<ZodTypeProvider>().get(
    '/dossiers',
    {
      schema: {
        summary: 'The change feed: dossiers by synced time, page by page, no row skipped or repeated',
        description:
          "Keyset pages in (syncedAt, provinceCode, dossierCode) order up to the change horizon (no write still in progress can land behind it). Every page gives a nextCursor — the feed has no end; hasMore says whether to ask again at once or poll later. A dossier changed again comes again, at its new syncedAt; items are the current state, never applicant data. A province-bound key gets its provinces' dossiers only; province= another is 403.",
        tags: ['dossiers'],
        security: [{ apiKey: [] }],
        querystring,
        response: {
          200: jsonResponse('a page of the change feed, with the cursor to resume from', dossierFeedPageBody),
          ...problemResponses(404, 410),
        },
      },
    },
    async (request, reply) => {
      const query = request.query;
      const key = request.apiKey;
      if (query.province !== undefined) {
        // A current code only: a former one is answered with its successor's code to use.
        const province = resolveRequestProvince(query.province, '2025');
        if (province.kind === 'unknown') return sendProblem(reply, province.problem);
        if (isProvinceBound(key) && !holds(key, query.province))
          return sendProblem(reply, problem('forbidden', notHeldDetail(key, query.province)));
      }
      const filters: DossierFeedFilters = {
        ...(query.province !== undefined ? { provinceCode: query.province } : {}),
        // A province key's feed is its provinces' dossiers only, with or without province=.
        ...(isProvinceBound(key) ? { provinceCodes: key.provinces } : {}),
        ...(query.status !== undefined ? { statuses: query.status.split(',').map(Number) } : {}),
        ...(query.updatedSince !== undefined ? { updatedSince: query.updatedSince } : {}),
      };
      const fingerprint = filtersFingerprint(filters);
      const now = options.clock();

      let after: FeedPosition | undefined;
      if (query.cursor !== undefined) {
        const decoded = decodeFeedCursor(query.cursor);
        if (decoded.kind === 'invalid') {
          return sendProblem(
            reply,
            problem(
              'invalid_cursor',
              `cursor: ${decoded.detail}; send a page's nextCursor as it was given, or ${restart}`,
            ),
          );
        }
        if (decoded.kind === 'old_format') {
          return sendProblem(
            reply,
            problem(
              'cursor_expired',
              `cursor: made by an older version of the feed (format ${decoded.version}); ${restart}`,
            ),
          );
        }
        const { cursor } = decoded;
        if (cursor.filters !== fingerprint) {
          const named = (value: string) => (value === '' ? 'no filters' : value);
          return sendProblem(
            reply,
            problem(
              'cursor_mismatch',
              `cursor: made for ${named(cursor.filters)}, but this request has ${named(fingerprint)}; send the filters the cursor was made for, or start again without a cursor`,
            ),
          );
        }
        if (now.getTime() - cursor.issuedAt.getTime() > maxAgeMs) {
          return sendProblem(
            reply,
            problem(
              'cursor_expired',
              `cursor: issued ${cursor.issuedAt.toISOString()}, more than ${options.cursorMaxAgeDays} days ago (FEED_CURSOR_MAX_AGE_DAYS); ${restart} (this cursor's was ${cursor.position.syncedAt})`,
            ),
          );
        }
        after = cursor.position;
      }

      const page = await listDossiers(options.db, { filters, limit: query.limit, ...(after ? { after } : {}) });
      return reply.header('cache-control', 'no-store').send({
        items: page.items.map(dossierSummaryView),
        nextCursor: encodeFeedCursor({ position: page.next, filters: fingerprint, issuedAt: now }),
        hasMore: page.hasMore,
        horizon: page.horizon.toISOString(),
      });
    },
  );
}
