import type { FastifyRequest } from 'fastify';
import type { Kysely } from 'kysely';
import { z } from 'zod';
import {
  countFailedBatches,
  findFailedBatch,
  listFailedBatches,
  type FailedBatchFilter,
} from '../../../db/queries/failed-batches.js';
import type { Database } from '../../../db/schema.js';
import { ConnectorRegistry } from '../../control-plane/connector-registry.js';
import { markFailedBatches, waitingFailedBatchIds } from '../../control-plane/failed-batch-marks.js';
import { FailedBatchNotQueuedError, retryFailedBatch } from '../../control-plane/failed-batch-retry.js';
import { failedBatchListView, failedBatchView } from '../../control-plane/failed-batch-view.js';
import type { IngestQueue } from '../../queue/ingest-queue.js';
import { jsonResponse, type ZodApi } from '../openapi.js';
import { problem, problemResponses, sendProblem } from '../problem.js';
import { connectorIdParams, isoTime } from './connector-routes.js';
import {
  heldConnectorIds,
  isoTimeFilter,
  nextCursor,
  nextCursorField,
  pageCursor,
  pageLimit,
  rowId,
} from './page-query.js';
import { requestActor } from './request-actor.js';

// `/v1/admin/failed-batches`: what `fleet failed-batch list / show / retry / discard` do, for a key. A province key
// reaches the batches of its provinces' connectors only; another province's batch is unknown to it. A batch's
// content (the records as queued) stays with the CLI (`fleet failed-batch show --batch`): the API shows its dossier
// codes, dead letters by reason and cursor move.

const tags = ['admin: failed batches'];
const security = [{ apiKey: [] }];

const failedBatchSummary = z
  .object({
    id: z.string(),
    provinceCode: z.string().describe('the current (2025) province whose ingest queue held it'),
    connectorId: z.string(),
    origin: z.enum(['poll', 'push']),
    records: z.number().int(),
    deadLetters: z.number().int(),
    error: z.string().describe("the writer's last error"),
    attempts: z.number().int().describe('attempts of the last job that failed'),
    failures: z.number().int().describe('jobs of this same batch that failed'),
    state: z.enum(['failed', 'retried', 'discarded']),
    stateChangedAt: isoTime.nullable(),
    firstFailedAt: isoTime,
    failedAt: isoTime,
  })
  .meta({
    id: 'FailedBatchSummary',
    description: 'an ingest batch the writer gave up on: where from, how it failed, and its state (never its content)',
  });

const failedBatch = failedBatchSummary
  .extend({
    dossierCodes: z.array(z.string()).describe("its records' dossier codes"),
    deadLettersByReason: z.array(z.object({ reason: z.string(), count: z.number().int() })),
    cursor: z
      .object({ before: z.unknown(), after: z.unknown() })
      .nullable()
      .describe('the cursor move a poll batch carries; null for a pushed batch'),
    unreadable: z
      .string()
      .nullable()
      .describe(
        'why this release cannot read the batch (another version, or a shape that does not match the schema: paths and expectations, never a value); null when it can. The fields above then hold what could be read',
      ),
  })
  .meta({
    id: 'FailedBatch',
    description: 'a failed batch with what it holds: dossier codes, dead letters by reason, cursor move',
  });

const failedBatchIdParams = z.object({ id: rowId('failed batch') });

/** The filters `fleet failed-batch` takes. */
const filterFields = {
  connector: connectorIdParams.shape.id.optional().describe("only this connector's batches"),
  province: z
    .string()
    .regex(/^\d{2}$/, { error: 'expected a two-digit province code' })
    .optional()
    .describe('only batches of this current (2025) province'),
  origin: z.enum(['poll', 'push'], { error: 'expected poll or push' }).optional().describe('only polled or pushed'),
  since: isoTimeFilter('only batches that failed (last) at or after this time'),
  until: isoTimeFilter('only batches that failed (last) before this time'),
};

const listQuery = z.object({
  ...filterFields,
  state: z
    .enum(['failed', 'retried', 'discarded', 'all'], { error: 'expected one of failed, retried, discarded, all' })
    .default('failed')
    .describe('only batches in this state; default failed (waiting for a retry or a discard)'),
  limit: pageLimit('batches'),
  cursor: pageCursor,
});

const selectionBody = z
  .object({
    ids: z.array(failedBatchIdParams.shape.id).min(1).max(1000).optional().describe('these batches (at most 1000)'),
    ...filterFields,
    allFailed: z.literal(true).optional().describe('every failed batch the key reaches, when no id or filter is given'),
  })
  .refine(
    (body) =>
      body.ids !== undefined ||
      body.allFailed === true ||
      [body.connector, body.province, body.origin, body.since, body.until].some((value) => value !== undefined),
    { error: 'expected ids, a filter (connector, province, origin, since, until), or allFailed: true' },
  )
  .meta({
    id: 'FailedBatchSelection',
    description:
      'which failed batches: ids, filters, or both (every one still failed that matches all); allFailed for every one',
  });

type Selection = z.infer<typeof selectionBody>;

/** The filter of a list or a selection, narrowed to the connectors the key reaches. */
function filterOf(
  fields: Omit<Selection, 'allFailed'>,
  connectorIds: readonly string[] | undefined,
): FailedBatchFilter {
  return {
    ids: fields.ids,
    connectorId: fields.connector,
    connectorIds,
    provinceCode: fields.province,
    origin: fields.origin,
    since: fields.since === undefined ? undefined : new Date(fields.since),
    until: fields.until === undefined ? undefined : new Date(fields.until),
  };
}

/** Registers the failed batch routes on the admin API: list, show, retry, discard. */
export function registerFailedBatchRoutes(
  api: ZodApi,
  db: Kysely<Database>,
  ingest: IngestQueue,
  /** How long a retry waits for Redis to acknowledge each batch (then 503 `queue_unavailable`). */
  ackTimeoutMs?: number,
): void {
  const registry = new ConnectorRegistry(db);
  const heldConnectors = (request: FastifyRequest) => heldConnectorIds(registry, request);

  api.get(
    '/failed-batches',
    {
      schema: {
        summary: 'Failed batches: counts by province of every match, then a page of batches, oldest first',
        tags,
        security,
        querystring: listQuery,
        response: {
          200: jsonResponse(
            'the counts and the page',
            z.object({
              counts: z
                .array(z.object({ provinceCode: z.string(), count: z.number().int() }))
                .describe('every matching batch, by province'),
              failedBatches: z.array(failedBatchSummary),
              nextCursor: nextCursorField,
            }),
          ),
        },
      },
    },
    async (request) => {
      const { state, limit, cursor, ...fields } = request.query;
      const filter = { ...filterOf(fields, await heldConnectors(request)), state };
      const counts = await countFailedBatches(db, filter);
      const rows = counts.length === 0 ? [] : await listFailedBatches(db, filter, { afterId: cursor, limit });
      return { ...failedBatchListView(counts, rows), nextCursor: nextCursor(rows, limit) };
    },
  );

  api.get(
    '/failed-batches/:id',
    {
      schema: {
        summary:
          'One failed batch and what it holds (dossier codes, dead letters by reason, cursor move), not its content',
        tags,
        security,
        params: failedBatchIdParams,
        response: { 200: jsonResponse('the batch', failedBatch), ...problemResponses(404) },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const row = await findFailedBatch(db, id);
      const held = await heldConnectors(request);
      if (!row || (held && !held.includes(row.connector_id)))
        return sendProblem(reply, problem('not_found', `failed batch ${id} does not exist`));
      return failedBatchView(row);
    },
  );

  api.post(
    '/failed-batches/retry',
    {
      schema: {
        summary:
          'Retries failed batches: each is queued for the writer as it was kept, then marked retried; recorded in the audit trail',
        tags,
        security,
        body: selectionBody,
        response: {
          200: jsonResponse(
            'how many were queued',
            z.object({
              retried: z
                .number()
                .int()
                .describe(
                  'batches that were failed and now are queued and retried; one that fails again is kept again',
                ),
              records: z.number().int().describe('the records and dead letters they hold'),
            }),
          ),
          ...problemResponses(503),
        },
      },
    },
    async (request, reply) => {
      const filter = filterOf(request.body, await heldConnectors(request));
      const actor = requestActor(request);
      let retried = 0;
      let records = 0;
      for await (const id of waitingFailedBatchIds(db, filter)) {
        let outcome;
        try {
          outcome = await retryFailedBatch(db, ingest, id, { actor, ackTimeoutMs });
        } catch (error) {
          if (!(error instanceof FailedBatchNotQueuedError)) throw error;
          const done = `${retried} batch${retried === 1 ? ' was' : 'es were'} retried before it`;
          return sendProblem(reply, problem('queue_unavailable', `${error.message}; ${done}`));
        }
        if (!outcome) continue;
        retried += 1;
        records += outcome.records;
      }
      return { retried, records };
    },
  );

  api.post(
    '/failed-batches/discard',
    {
      schema: {
        summary: 'Discards failed batches (they are kept, marked discarded); recorded in the audit trail',
        tags,
        security,
        body: selectionBody,
        response: {
          200: jsonResponse(
            'how many were discarded',
            z.object({
              discarded: z
                .number()
                .int()
                .describe(
                  'batches that were failed and now are discarded; others (and ones the key does not reach) stay',
                ),
            }),
          ),
        },
      },
    },
    async (request) => {
      const filter = filterOf(request.body, await heldConnectors(request));
      const chosen: string[] = [];
      for await (const id of waitingFailedBatchIds(db, filter)) chosen.push(id);
      const discarded = await markFailedBatches(db, chosen, { state: 'discarded', actor: requestActor(request) });
      return { discarded: discarded.length };
    },
  );
}
