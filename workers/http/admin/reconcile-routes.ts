import type { Kysely } from 'kysely';
import { z } from 'zod';
import type { CodeSet } from '../../../config/provinces.js';
import { createConnector } from '../../../connectors/plugins.js';
import { insertAuditEvent } from '../../../db/queries/audit-events.js';
import { findUnfinishedReconcile, insertReconcileRun, listReconcileRuns } from '../../../db/queries/reconcile-runs.js';
import type { Database } from '../../../db/schema.js';
import { actorColumns } from '../../control-plane/audit.js';
import { ConnectorRegistry, RegistryError } from '../../control-plane/connector-registry.js';
import { checkReconcile, ReconcileRefusedError, reconcileRunView, startedByOf } from '../../control-plane/reconcile.js';
import { isoTime as viewTime } from '../../control-plane/view-time.js';
import { pageLimit } from './page-query.js';
import { jsonResponse, type ZodApi } from '../openapi.js';
import { problem, problemResponses, sendProblem } from '../problem.js';
import { connectorIdParams, isoTime } from './connector-routes.js';
import { requestActor } from './request-actor.js';

// `GET /v1/admin/reconcile-runs`: the runs as `fleet reconcile --report -o json` prints them; `POST
// /v1/admin/connectors/{id}/reconcile`: asks for a run, which a process of the reconciler role takes (README,
// Reconciliation). A province key sees and starts only its provinces' runs; another province's connector answers
// as an unknown one.

const count = z.number().int();

/** One reconcile run (workers/control-plane/reconcile.ts `ReconcileRunView`). */
export const reconcileRunSchema = z
  .object({
    id: z.string(),
    connectorId: z.string(),
    provinceCode: z.string().describe("the connector's current (2025) province code"),
    from: isoTime.describe('start of the range of source update times, inclusive'),
    to: isoTime.describe('end of the range, exclusive'),
    method: z
      .enum(['digest', 'listing', 'pages'])
      .describe('how the source is compared: its digests, its listings, or page by page'),
    bucketsDone: count,
    bucketsTotal: count.describe('one bucket per Vietnam day of source update time'),
    bucketsDiffering: count,
    scopesCompared: count,
    requests: count.describe('requests made to the source'),
    recordsFetched: count,
    mismatches: z.object({ missingHere: count, extraHere: count, differentVersion: count, differentState: count }),
    repaired: count,
    status: z.enum(['requested', 'running', 'failed', 'done', 'cancelled']),
    startedBy: z.string().describe('cli:<user>, the key that asked for it, or schedule'),
    startedAt: isoTime,
    updatedAt: isoTime,
    finishedAt: isoTime.nullable(),
    seconds: z.number().describe('seconds spent running, over every process that carried it'),
    error: z.string().nullable().describe('the last failure of a failed run; never a secret nor a record value'),
  })
  .meta({ id: 'ReconcileRun', description: "one comparison of a connector's copy with its source, bucket by bucket" });

const runsQuery = z.object({
  connector: connectorIdParams.shape.id.optional().describe('only runs of this connector'),
  limit: pageLimit('runs', 20),
});

const time = z.iso.datetime({
  offset: true,
  error: 'expected an ISO 8601 time with a zone, e.g. 2026-11-01T00:00:00+07:00',
});
const reconcileBody = z
  .object({
    from: time.optional().describe('start of the range of source update times; default 30 days before `to`'),
    to: time.optional().describe('end of the range, exclusive; default now'),
  })
  .strict();

/** Registers `GET /reconcile-runs` and `POST /connectors/:id/reconcile` on the admin API. */
export function registerReconcileRoutes(api: ZodApi, db: Kysely<Database>): void {
  api.get(
    '/reconcile-runs',
    {
      schema: {
        summary: 'Reconcile runs, newest first: range, buckets, requests, mismatches by kind, repaired, status',
        tags: ['admin: reconcile'],
        security: [{ apiKey: [] }],
        querystring: runsQuery,
        response: { 200: jsonResponse('the runs, newest first', z.object({ runs: z.array(reconcileRunSchema) })) },
      },
    },
    async (request) => {
      const { connector, limit } = request.query;
      const provinces = request.apiKey?.provinces ?? null;
      const rows = await listReconcileRuns(db, {
        ...(connector === undefined ? {} : { connectorId: connector }),
        ...(provinces === null ? {} : { provinceCodes: provinces }),
        limit,
      });
      return { runs: rows.map(reconcileRunView) };
    },
  );

  api.post(
    '/connectors/:id/reconcile',
    {
      schema: {
        summary:
          "Asks for a reconcile of the connector's copy with its source; a process of the reconciler role runs it. The connector's unfinished run, if any, is answered instead",
        tags: ['admin: reconcile'],
        security: [{ apiKey: [] }],
        params: connectorIdParams,
        body: reconcileBody.optional(),
        response: {
          202: jsonResponse(
            'the run asked for (created true), or the unfinished one that will be carried on (created false)',
            z.object({ run: reconcileRunSchema, created: z.boolean() }),
          ),
          ...problemResponses(400, 404),
        },
      },
    },
    async (request, reply) => {
      const actor = requestActor(request);
      try {
        await new ConnectorRegistry(db).get(request.params.id, request.apiKey);
        const body = request.body ?? {};
        const checked = await checkReconcile(
          db,
          {
            connectorId: request.params.id,
            ...(body.from === undefined ? {} : { from: new Date(body.from) }),
            ...(body.to === undefined ? {} : { to: new Date(body.to) }),
          },
          (row) =>
            createConnector({
              id: row.id,
              sourceProvinceCode: row.province_code,
              sourceCodeSet: row.code_set as CodeSet,
              kind: row.kind,
              config: row.config,
            }),
        );
        const answer = await db.transaction().execute(async (trx) => {
          const unfinished = await findUnfinishedReconcile(trx, checked.row.id);
          if (unfinished) return { run: unfinished, created: false };
          const run = await insertReconcileRun(trx, {
            connectorId: checked.row.id,
            provinceCode: checked.provinceCode,
            from: checked.from,
            to: checked.to,
            method: checked.method,
            bucketsTotal: checked.bucketsTotal,
            startedBy: startedByOf(actor),
            status: 'requested',
          });
          if (!run)
            throw new Error(`connector ${checked.row.id}: a reconcile run was asked for at the same time; try again`);
          await insertAuditEvent(trx, {
            ...actorColumns(actor),
            action: 'reconcile.start',
            connector_id: checked.row.id,
            province_code: checked.provinceCode,
            details: {
              run: run.id,
              from: viewTime(run.range_from),
              to: viewTime(run.range_to),
              method: run.method,
              buckets: run.buckets_total,
            },
          });
          return { run, created: true };
        });
        return reply.code(202).send({ run: reconcileRunView(answer.run), created: answer.created });
      } catch (error) {
        if (error instanceof RegistryError && error.code === 'not_found')
          return sendProblem(reply, problem('not_found', error.message));
        if (error instanceof ReconcileRefusedError)
          return sendProblem(
            reply,
            error.reason === 'not_found' ? problem('not_found', error.message) : problem('bad_request', error.message),
          );
        throw error;
      }
    },
  );
}
