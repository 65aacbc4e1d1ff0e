import type { FastifyInstance, FastifySchema } from 'fastify';
import type { Kysely } from 'kysely';
import type { Database } from '../../../db/schema.js';
import { RegistryError } from '../../control-plane/connector-registry.js';
import { connectorStatus } from '../../control-plane/connector-status.js';
import { problem, problemSchema, sendProblem } from '../problem.js';

// `GET /v1/admin/connectors/{id}/status`: where a connector's sync stands, the view `fleet connector status ID -o json`
// prints.

const nullableTime = { type: ['string', 'null'], format: 'date-time' } as const;
const time = { type: 'string', format: 'date-time' } as const;
const count = { type: 'integer', minimum: 0 } as const;
const nullable = (schema: object) => ({ anyOf: [{ type: 'null' }, schema] });

/** The status view (workers/control-plane/connector-status.ts), every field described so the serializer keeps it. */
export const connectorStatusSchema = {
  type: 'object',
  required: [
    'id',
    'provinceCode',
    'codeSet',
    'kind',
    'state',
    'polled',
    'breaker',
    'storedDossiers',
    'lastSuccessAt',
    'lastError',
    'run',
    'position',
    'pushes',
  ],
  properties: {
    id: { type: 'string' },
    provinceCode: { type: 'string' },
    codeSet: { type: 'string', enum: ['2025', '2008'] },
    kind: { type: 'string', description: 'declarative, or the plugin name' },
    state: { type: 'string', enum: ['active', 'paused', 'removed'] },
    polled: { type: 'boolean', description: 'false for a connector whose system only pushes: no runs, no position' },
    breaker: nullable({
      type: 'object',
      required: ['state', 'changedAt'],
      properties: { state: { type: 'string', enum: ['closed', 'half_open', 'open'] }, changedAt: nullableTime },
    }),
    storedDossiers: {
      ...count,
      description: 'dossiers whose stored state this connector wrote, counted in the dossiers table',
    },
    lastSuccessAt: nullableTime,
    lastError: nullable({
      type: 'object',
      required: ['message', 'at', 'followedBySuccess'],
      properties: {
        message: { type: 'string', description: 'what failed and what to check; never a secret or personal data' },
        at: nullableTime,
        followedBySuccess: { type: 'boolean', description: 'a later run succeeded' },
      },
    }),
    run: nullable({
      type: 'object',
      description: 'the current (or last) poll run, as its poller published it page by page',
      required: [
        'outcome',
        'startedAt',
        'lastPageAt',
        'endedAt',
        'pages',
        'records',
        'deadLetters',
        'recordsPerSecond',
      ],
      properties: {
        outcome: { type: 'string', enum: ['running', 'caught_up', 'continued', 'failed', 'interrupted'] },
        startedAt: time,
        lastPageAt: nullableTime,
        endedAt: nullableTime,
        pages: count,
        records: count,
        deadLetters: count,
        recordsPerSecond: {
          type: ['number', 'null'],
          description: 'records and dead letters per second, from the start to the last page (to the end once ended)',
        },
      },
    }),
    position: nullable({
      type: 'object',
      description: 'the committed cursor, as a person reads it',
      required: ['source', 'walk', 'movedAt', 'cursor'],
      properties: {
        source: { description: "the connector's own part of the cursor, e.g. {updatedSince, afterCode}" },
        walk: nullable({
          type: 'object',
          required: ['number', 'pages', 'startedAt', 'complete'],
          properties: {
            number: count,
            pages: count,
            startedAt: nullableTime,
            complete: { type: 'boolean', description: 'the walk read its last page; the next run begins a new one' },
          },
        }),
        movedAt: nullableTime,
        cursor: { description: 'the cursor as committed (any JSON)' },
      },
    }),
    pushes: {
      type: 'object',
      required: ['updates', 'lastReceivedAt', 'lastCommittedAt'],
      properties: {
        updates: { ...count, description: 'pushed records and dead letters committed' },
        lastReceivedAt: nullableTime,
        lastCommittedAt: nullableTime,
      },
    },
  },
} as const;

const idParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', pattern: '^[a-z0-9][a-z0-9-]{0,62}$', description: 'the connector id' } },
} as const;

/** The route's schema with its OpenAPI summary and tags. */
const statusRouteSchema: FastifySchema & { summary: string; tags: string[] } = {
  summary:
    "Where a connector's sync stands: its run (pages, records, records/s), position, last error, state, pushes and the dossiers stored",
  tags: ['admin: connectors'],
  params: idParams,
  response: {
    200: connectorStatusSchema,
    ...Object.fromEntries([400, 401, 403, 404].map((status) => [status, problemSchema])),
  },
};

/**
 * Registers `GET /connectors/:id/status` on the admin API: 200 the status view, 404 `not_found` for an unknown
 * connector.
 */
export function registerConnectorStatusRoute(api: FastifyInstance, db: Kysely<Database>): void {
  api.get<{ Params: { id: string } }>(
    '/connectors/:id/status',
    { schema: statusRouteSchema },
    async (request, reply) => {
      try {
        return await connectorStatus(db, request.params.id);
      } catch (error) {
        if (error instanceof RegistryError && error.code === 'not_found')
          return sendProblem(reply, problem('not_found', error.message));
        throw error;
      }
    },
  );
}
