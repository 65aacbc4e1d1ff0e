import type { Kysely } from 'kysely';
import { z } from 'zod';
import { createConnector } from '../../../connectors/plugins.js';
import type { CodeSet } from '../../../config/provinces.js';
import {
  findBackfillRun,
  findUnfinishedBackfill,
  listBackfillRuns,
  withBackfillLock,
  type BackfillRunRow,
} from '../../../db/queries/backfill-runs.js';
import type { Database } from '../../../db/schema.js';
import {
  BackfillRefusedError,
  backfillRunView,
  cancelBackfill,
  checkBackfill,
  describeRun,
  openBackfill,
  type CheckedBackfill,
  type OpenedBackfill,
} from '../../control-plane/backfill.js';
import { ConnectorRegistry, RegistryError } from '../../control-plane/connector-registry.js';
import { holds } from '../../control-plane/province-scope.js';
import { jsonResponse, type ZodApi } from '../openapi.js';
import { problem, problemResponses, sendProblem } from '../problem.js';
import { connectorIdParams, isoTime } from './connector-routes.js';
import { pageLimit, rowId } from './page-query.js';
import { requestActor } from './request-actor.js';

// Backfills over HTTP: `GET /v1/admin/backfills` lists the runs (the view `fleet backfill --status -o json` prints),
// `POST /v1/admin/connectors/{id}/backfill` records a run that the fleet's reconciler role carries out
// (workers/backfill/backfill-runner.ts: the same window-by-window code as `fleet backfill`), and
// `POST /v1/admin/backfills/{id}/cancel` gives one up. A province key reaches its provinces' runs only.

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
  limit: pageLimit('runs', 20),
});

const timeError = 'expected an ISO 8601 time such as 2026-11-01 (midnight UTC) or 2026-11-01T00:00:00+07:00';
const timePattern = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2}))?$/;
/** A time as `fleet backfill` reads one: a date (midnight UTC), or a date and time with an offset. */
const rangeTime = (description: string) =>
  z
    .string({ error: timeError })
    .refine((value) => timePattern.test(value) && !Number.isNaN(new Date(value).getTime()), { error: timeError })
    .describe(description);

const windowHoursError = 'expected a whole number of hours from 1 to 8784';

const backfillBody = z
  .object({
    from: rangeTime('start of the range of source update times, inclusive'),
    to: rangeTime('end of the range, exclusive; after from'),
    windowHours: z
      .number({ error: windowHoursError })
      .int({ error: windowHoursError })
      .min(1, { error: windowHoursError })
      .max(8784, { error: windowHoursError })
      .optional()
      .describe("hours per window; default the definition's backfill.windowHours, else 24"),
  })
  .refine(
    (body) => {
      const [from, to] = [new Date(body.from).getTime(), new Date(body.to).getTime()];
      // A time that is not one is told by its own field.
      return Number.isNaN(from) || Number.isNaN(to) || from < to;
    },
    {
      path: ['to'],
      error: 'expected a time after from: the range [from, to) of source update times is empty',
    },
  )
  .meta({ id: 'BackfillRequest', description: "a range of a connector's history to read again, window by window" });

/** What a start came to: a run opened (or resumed), or refused because of the connector's unfinished run. */
type Started = { opened: OpenedBackfill } | { refused: BackfillRunRow | null; held?: true };

/** Registers the backfill routes on the admin API: list, start, cancel. */
export function registerBackfillRoute(api: ZodApi, db: Kysely<Database>): void {
  const registry = new ConnectorRegistry(db);
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

  api.post(
    '/connectors/:id/backfill',
    {
      schema: {
        summary:
          "Start a backfill of the connector's history over [from, to): recorded, then read window by window by the fleet's reconciler role, behind the live sync; recorded in the audit trail",
        tags: ['admin: backfill'],
        security: [{ apiKey: [] }],
        params: connectorIdParams,
        body: backfillBody,
        response: {
          202: jsonResponse(
            'the run, recorded; a process of the reconciler role carries it out (follow it with GET /v1/admin/backfills)',
            z.object({
              run: backfillRunSchema,
              resumed: z
                .boolean()
                .describe("true: the connector's failed run of the same range and window step, resumed"),
            }),
          ),
          ...problemResponses(404, 409, 422),
        },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      let state: string;
      try {
        // Another province's connector is unknown to a province key, in the same words.
        ({ state } = await registry.get(id, request.apiKey));
      } catch (error) {
        if (error instanceof RegistryError) return sendProblem(reply, problem(error.code, error.message));
        throw error;
      }
      if (state === 'removed')
        return sendProblem(
          reply,
          problem(
            'conflict',
            `connector ${id} is removed; register it again (POST /v1/admin/connectors) to backfill it`,
          ),
        );
      const { from, to, windowHours } = request.body;
      let checked: CheckedBackfill;
      try {
        // Built without a gate: only to see whether its source can be read by window; nothing is requested.
        checked = await checkBackfill(
          db,
          { connectorId: id, from: new Date(from), to: new Date(to), ...(windowHours ? { windowHours } : {}) },
          (row) =>
            createConnector({
              id: row.id,
              sourceProvinceCode: row.province_code,
              sourceCodeSet: row.code_set as CodeSet,
              kind: row.kind,
              config: row.config,
            }),
        );
      } catch (error) {
        if (!(error instanceof BackfillRefusedError)) throw error;
        const detail = error.message.replace(/^fleet backfill: /, '');
        return sendProblem(
          reply,
          error.reason === 'not_found'
            ? problem('not_found', `connector ${id} is not registered`)
            : problem('backfill_not_supported', detail),
        );
      }
      // The connector's backfill lock, as `fleet backfill` takes it: a run carried by a process now is not touched.
      const locked = await withBackfillLock(db, id, async (): Promise<Started> => {
        const unfinished = await findUnfinishedBackfill(db, id);
        if (unfinished) {
          const same =
            unfinished.range_from.getTime() === checked.from.getTime() &&
            unfinished.range_to.getTime() === checked.to.getTime() &&
            unfinished.window_hours === checked.windowHours;
          // A failed run of the same range is resumed, as the same `fleet backfill` command would.
          if (unfinished.status !== 'failed' || !same) return { refused: unfinished };
        }
        return { opened: await openBackfill(db, checked, requestActor(request)) };
      });
      const started: Started = locked?.value ?? { refused: (await findUnfinishedBackfill(db, id)) ?? null, held: true };
      if ('refused' in started) {
        const run = started.refused;
        const held = 'held' in started ? ', carried out by a process now' : '';
        const resume =
          run?.status === 'failed' ? ', or start it again with its range and window step to resume it' : '';
        return sendProblem(
          reply,
          problem(
            'conflict',
            `connector ${id} has an unfinished ${run ? describeRun(run) : 'backfill run'}${held}; one backfill runs per connector at a time: wait for it to finish, or cancel it (POST /v1/admin/backfills/${run?.id ?? '{id}'}/cancel)${resume}`,
          ),
        );
      }
      const { run, resumed } = started.opened;
      return reply
        .code(202)
        .header('location', `/v1/admin/backfills?connector=${id}`)
        .send({ run: backfillRunView(run), resumed });
    },
  );

  api.post(
    '/backfills/:id/cancel',
    {
      schema: {
        summary:
          'Give up an unfinished backfill run (running or failed): what it stored stays; the process carrying it stops after the page in hand; recorded in the audit trail',
        tags: ['admin: backfill'],
        security: [{ apiKey: [] }],
        params: z.object({ id: rowId('backfill run') }),
        response: {
          200: jsonResponse('the run, cancelled', z.object({ run: backfillRunSchema })),
          ...problemResponses(404, 409),
        },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const run = await findBackfillRun(db, id);
      // Another province's run is unknown to a province key, in the same words.
      if (!run || !holds(request.apiKey, run.province_code))
        return sendProblem(reply, problem('not_found', `backfill run ${id} does not exist`));
      const cancelled = await cancelBackfill(db, run, requestActor(request));
      if (!cancelled) {
        const now = await findBackfillRun(db, id);
        return sendProblem(
          reply,
          problem(
            'conflict',
            `backfill run ${id} is ${now?.status ?? run.status}; only a running or failed run can be cancelled`,
          ),
        );
      }
      return { run: backfillRunView(cancelled) };
    },
  );
}
