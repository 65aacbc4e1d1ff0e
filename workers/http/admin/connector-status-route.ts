import type { Kysely } from 'kysely';
import { z } from 'zod';
import type { Database } from '../../../db/schema.js';
import { RegistryError } from '../../control-plane/connector-registry.js';
import { connectorStatus } from '../../control-plane/connector-status.js';
import { jsonResponse, type ZodApi } from '../openapi.js';
import { problem, problemResponses, sendProblem } from '../problem.js';
import { codeSet, connectorIdParams, connectorState, isoTime } from './connector-routes.js';

// `GET /v1/admin/connectors/{id}/status`: where a connector's sync stands, the view `fleet connector status ID -o json`
// prints.

const nullableTime = isoTime.nullable();
const count = z.int().min(0);

/** The status view (workers/control-plane/connector-status.ts), every field described so the serializer keeps it. */
export const connectorStatusSchema = z
  .object({
    id: z.string(),
    provinceCode: z.string(),
    codeSet,
    kind: z.string().describe('declarative, or the plugin name'),
    state: connectorState,
    polled: z.boolean().describe('false for a connector whose system only pushes: no runs, no position'),
    breaker: z
      .object({ state: z.enum(['closed', 'half_open', 'open']), changedAt: nullableTime })
      .nullable()
      .describe('the circuit breaker as the pollers last recorded it; null before any change'),
    storedDossiers: count.describe('dossiers whose stored state this connector wrote, counted in the dossiers table'),
    lastSuccessAt: nullableTime,
    lastError: z
      .object({
        message: z.string().describe('what failed and what to check; never a secret or personal data'),
        at: nullableTime,
        followedBySuccess: z.boolean().describe('a later run succeeded'),
      })
      .nullable(),
    run: z
      .object({
        outcome: z.enum(['running', 'caught_up', 'continued', 'failed', 'interrupted']),
        startedAt: isoTime,
        lastPageAt: nullableTime,
        endedAt: nullableTime,
        pages: count,
        records: count,
        deadLetters: count,
        recordsPerSecond: z
          .number()
          .nullable()
          .describe('records and dead letters per second, from the start to the last page (to the end once ended)'),
      })
      .nullable()
      .describe('the current (or last) poll run, as its poller published it page by page'),
    position: z
      .object({
        source: z.unknown().describe("the connector's own part of the cursor, e.g. {updatedSince, afterCode}"),
        walk: z
          .object({
            number: count,
            pages: count,
            startedAt: nullableTime,
            complete: z.boolean().describe('the walk read its last page; the next run begins a new one'),
          })
          .nullable(),
        movedAt: nullableTime,
        cursor: z.unknown().describe('the cursor as committed (any JSON)'),
      })
      .nullable()
      .describe('the committed cursor, as a person reads it'),
    pushes: z.object({
      updates: count.describe('pushed records and dead letters committed'),
      lastReceivedAt: nullableTime,
      lastCommittedAt: nullableTime,
    }),
  })
  .meta({ id: 'ConnectorStatus', description: "where a connector's sync stands" });

/**
 * Registers `GET /connectors/:id/status` on the admin API: 200 the status view, 404 `not_found` for an unknown
 * connector or one of a province the key does not hold.
 */
export function registerConnectorStatusRoute(api: ZodApi, db: Kysely<Database>): void {
  api.get(
    '/connectors/:id/status',
    {
      schema: {
        summary:
          "Where a connector's sync stands: its run (pages, records, records/s), position, last error, state, pushes and the dossiers stored",
        tags: ['admin: connectors'],
        security: [{ apiKey: [] }],
        params: connectorIdParams,
        response: {
          200: jsonResponse("where the connector's sync stands", connectorStatusSchema),
          ...problemResponses(404),
        },
      },
    },
    async (request, reply) => {
      try {
        return await connectorStatus(db, request.params.id, request.apiKey);
      } catch (error) {
        if (error instanceof RegistryError && error.code === 'not_found')
          return sendProblem(reply, problem('not_found', error.message));
        throw error;
      }
    },
  );
}
