import type { FastifyRequest } from 'fastify';
import type { Kysely } from 'kysely';
import { z } from 'zod';
import {
  countDeadLetters,
  findDeadLetter,
  listDeadLetters,
  type DeadLetterFilter,
} from '../../../db/queries/dead-letters.js';
import type { Database } from '../../../db/schema.js';
import { ConnectorRegistry } from '../../control-plane/connector-registry.js';
import { discardDeadLetters } from '../../control-plane/dead-letter-discard.js';
import { deadLetterListView, deadLetterView } from '../../control-plane/dead-letter-view.js';
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

// `/v1/admin/dead-letters`: what `fleet dlq list / show / discard` do, for a key. A province key reaches the letters
// of its provinces' connectors only; another province's letter is unknown to it. Replay needs the ingest queue and
// a running writer: it stays with the CLI (`fleet dlq replay`).

const tags = ['admin: dead letters'];
const security = [{ apiKey: [] }];

const deadLetterState = z.enum(['new', 'replayed', 'discarded']);

const deadLetterSummary = z
  .object({
    id: z.string(),
    connectorId: z.string(),
    provinceCode: z.string().nullable().describe("the record's current (2025) province code, when it could be read"),
    dossierCode: z.string().nullable(),
    reason: z.string().describe('why the record was not accepted'),
    message: z.string(),
    state: deadLetterState,
    receivedAt: isoTime,
  })
  .meta({ id: 'DeadLetterSummary', description: 'a record that was not accepted: where from, why, and its state' });

const deadLetter = deadLetterSummary
  .extend({
    rawPayload: z.unknown().describe('the record as received, personal data redacted when it was kept'),
  })
  .meta({ id: 'DeadLetter', description: 'a dead letter with the record as received (personal data redacted)' });

const deadLetterIdParams = z.object({ id: rowId('dead letter') });

const listQuery = z.object({
  connector: connectorIdParams.shape.id.optional().describe("only this connector's letters"),
  reason: z.string().max(100).optional().describe('only letters of this reason'),
  state: z
    .enum(['new', 'replayed', 'discarded', 'all'], { error: 'expected one of new, replayed, discarded, all' })
    .default('new')
    .describe('only letters in this state; default new (still waiting for a fix)'),
  since: isoTimeFilter('only letters received at or after this time'),
  limit: pageLimit('letters'),
  cursor: pageCursor,
});

const discardBody = z
  .object({
    ids: z.array(deadLetterIdParams.shape.id).min(1).max(1000).optional().describe('these letters (at most 1000)'),
    connector: connectorIdParams.shape.id.optional().describe("this connector's letters"),
  })
  .refine((body) => body.ids !== undefined || body.connector !== undefined, {
    error: 'expected ids, connector or both: which letters to discard',
  })
  .meta({
    id: 'DeadLetterDiscard',
    description: 'which dead letters to discard: ids, a connector, or both (ids of that connector)',
  });

/** Registers the dead letter routes on the admin API: list, show, discard. */
export function registerDeadLetterRoutes(api: ZodApi, db: Kysely<Database>): void {
  const registry = new ConnectorRegistry(db);

  const heldConnectors = (request: FastifyRequest) => heldConnectorIds(registry, request);

  api.get(
    '/dead-letters',
    {
      schema: {
        summary: 'Dead letters: counts by reason of every match, then a page of letters, oldest first',
        tags,
        security,
        querystring: listQuery,
        response: {
          200: jsonResponse(
            'the counts and the page',
            z.object({
              counts: z
                .array(z.object({ reason: z.string(), count: z.number().int() }))
                .describe('every matching letter, by reason'),
              deadLetters: z.array(deadLetterSummary),
              nextCursor: nextCursorField,
            }),
          ),
        },
      },
    },
    async (request) => {
      const { connector, reason, state, since, limit, cursor } = request.query;
      const filter: DeadLetterFilter = {
        connectorId: connector,
        connectorIds: await heldConnectors(request),
        reason,
        state,
        since: since === undefined ? undefined : new Date(since),
      };
      const counts = await countDeadLetters(db, filter);
      const rows = counts.length === 0 ? [] : await listDeadLetters(db, filter, { afterId: cursor, limit });
      return {
        ...deadLetterListView(counts, rows),
        nextCursor: nextCursor(rows, limit),
      };
    },
  );

  api.get(
    '/dead-letters/:id',
    {
      schema: {
        summary: 'One dead letter with the record as received (personal data redacted when it was kept)',
        tags,
        security,
        params: deadLetterIdParams,
        response: { 200: jsonResponse('the letter', deadLetter), ...problemResponses(404) },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const row = await findDeadLetter(db, id);
      const held = await heldConnectors(request);
      if (!row || (held && !held.includes(row.connector_id)))
        return sendProblem(reply, problem('not_found', `dead letter ${id} does not exist`));
      return deadLetterView(row, true);
    },
  );

  api.post(
    '/dead-letters/discard',
    {
      schema: {
        summary: 'Discards dead letters still new (they are kept, marked discarded); recorded in the audit trail',
        tags,
        security,
        body: discardBody,
        response: {
          200: jsonResponse(
            'how many were discarded',
            z.object({
              discarded: z
                .number()
                .int()
                .describe('letters that were new and now are discarded; others (and ones the key does not reach) stay'),
            }),
          ),
        },
      },
    },
    async (request) => {
      const { ids, connector } = request.body;
      const discarded = await discardDeadLetters(
        db,
        { ids, connectorId: connector, connectorIds: await heldConnectors(request) },
        { actor: requestActor(request) },
      );
      return { discarded };
    },
  );
}
