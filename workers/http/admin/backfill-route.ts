import type { Kysely } from 'kysely';
import { z } from 'zod';
import { listBackfillRuns } from '../../../db/queries/backfill-runs.js';
import type { Database } from '../../../db/schema.js';
import { backfillRunView } from '../../control-plane/backfill.js';
import { jsonResponse, type ZodApi } from '../openapi.js';
import { connectorIdParams, isoTime } from './connector-routes.js';

// `GET /v1/admin/backfills`: the backfill runs, the view `fleet backfill --status -o json` prints. Read-only: a run
// lives in the `fleet backfill` process that started it (README, Backfill), which an HTTP request cannot be.

/** One backfill run (workers/control-plane/backfill.ts `BackfillRunView`). */
export const backfillRunSchema = z
  .object({
    id: z.string(),
    connectorId: z.string(),
    provinceCode: z.string().describe("the connector's current (2025) province code"),
    from: isoTime.describe('start of the range of source update times, inclusive'),
    to: isoTime.describe('end of the range, exclusive'),
    windowHours: z.number().int().describe('hours of source update time per window'),
    windowsDone: z.number().int(),
    windowsTotal: z.number().int(),
    records: z.number().int().describe('records stored, each page counted once'),
    deadLetters: z.number().int(),
    status: z.enum(['running', 'failed', 'done', 'cancelled']),
    startedBy: z.string().describe('cli:<user>, or the key that started it'),
    startedAt: isoTime,
    updatedAt: isoTime,
    finishedAt: isoTime.nullable(),
    error: z.string().nullable().describe('the last failure of a failed run; never a secret nor a record value'),
  })
  .meta({ id: 'BackfillRun', description: "one backfill of a connector's history over a range, window by window" });

const backfillQuery = z.object({
  connector: connectorIdParams.shape.id.optional().describe('only runs of this connector'),
  limit: z.coerce
    .number({ error: 'expected a whole number from 1 to 1000' })
    .int({ error: 'expected a whole number from 1 to 1000' })
    .min(1, { error: 'expected a whole number from 1 to 1000' })
    .max(1000, { error: 'expected a whole number from 1 to 1000' })
    .default(20)
    .describe('at most this many runs; default 20'),
});

/** Registers `GET /backfills` on the admin API. */
export function registerBackfillRoute(api: ZodApi, db: Kysely<Database>): void {
  api.get(
    '/backfills',
    {
      schema: {
        summary: 'Backfill runs, newest first: range, windows done, records, status, who started them',
        tags: ['admin: backfill'],
        security: [{ apiKey: [] }],
        querystring: backfillQuery,
        response: {
          200: jsonResponse('the runs, newest first', z.object({ runs: z.array(backfillRunSchema) })),
        },
      },
    },
    async (request) => {
      const { connector, limit } = request.query;
      // A province key sees its provinces' runs; a national key (provinces null) sees all.
      const rows = await listBackfillRuns(db, {
        connectorId: connector,
        provinces: request.apiKey?.provinces ?? null,
        limit,
      });
      return { runs: rows.map(backfillRunView) };
    },
  );
}
