import type { FastifyInstance, FastifyReply, FastifySchema } from 'fastify';
import type { Kysely } from 'kysely';
import { DefinitionError } from '../../../connectors/sdk/definition-error.js';
import type { Database } from '../../../db/schema.js';
import { problem, problemSchema, sendProblem } from '../problem.js';
import { checkConnector, CheckInputError } from '../../control-plane/check-connector.js';
import { connectorListView, connectorView } from '../../control-plane/connector-view.js';
import {
  ConnectorRegistry,
  connectorSettings,
  definitionFromDocument,
  definitionFromText,
  RegistryError,
  type SubmittedDefinition,
} from '../../control-plane/connector-registry.js';

// The connector registry over HTTP: `/v1/admin/connectors`. The same operations as `fleet connector …`; each
// route with its JSON schemas beside it.

const nullableText = { type: ['string', 'null'] } as const;
const nullableTime = { type: ['string', 'null'], format: 'date-time' } as const;

/** A connector as listed. */
const connectorSummarySchema = {
  type: 'object',
  required: [
    'id',
    'provinceCode',
    'codeSet',
    'kind',
    'state',
    'polled',
    'pollIntervalMs',
    'createdAt',
    'updatedAt',
    'lastSuccessAt',
    'lastErrorAt',
    'lastError',
    'cursor',
  ],
  properties: {
    id: { type: 'string' },
    description: nullableText,
    provinceCode: { type: 'string' },
    codeSet: { type: 'string', enum: ['2025', '2008'] },
    kind: { type: 'string', description: 'declarative, or the plugin name' },
    state: { type: 'string', enum: ['active', 'paused', 'removed'] },
    polled: {
      type: 'boolean',
      description: 'false for a connector whose system only pushes: never polled, no cursor, no last poll',
    },
    pollIntervalMs: { type: 'integer', description: 'between poll runs (not used for a push-only connector)' },
    createdAt: { type: 'string', format: 'date-time' },
    updatedAt: { type: 'string', format: 'date-time' },
    lastSuccessAt: nullableTime,
    lastErrorAt: nullableTime,
    lastError: nullableText,
    cursor: {
      description: 'the committed position in the source; null before the first committed page',
      anyOf: [
        { type: 'null' },
        {
          type: 'object',
          required: ['position', 'recordsCommitted', 'updatedAt'],
          properties: {
            position: { description: "the connector's own cursor (any JSON)" },
            recordsCommitted: { type: 'integer' },
            updatedAt: { type: 'string', format: 'date-time' },
          },
        },
      ],
    },
  },
} as const;

/** A connector with its definition. */
const connectorSchema = {
  ...connectorSummarySchema,
  required: [...connectorSummarySchema.required, 'definition', 'config'],
  properties: {
    ...connectorSummarySchema.properties,
    definition: {
      type: 'object',
      additionalProperties: true,
      description: 'the definition as submitted (secrets only as references)',
    },
    config: { description: "the kind's validated configuration, defaults filled in" },
  },
} as const;

const checkResultSchema = {
  type: 'object',
  required: [
    'connectorId',
    'kind',
    'provinceCode',
    'ok',
    'stage',
    'message',
    'source',
    'recordsRead',
    'hasMore',
    'stored',
    'deadLettered',
    'warnings',
    'acceptedDeadLetterPercent',
    'passed',
  ],
  properties: {
    connectorId: { type: 'string' },
    kind: { type: 'string' },
    provinceCode: { type: 'string' },
    ok: { type: 'boolean', description: 'a page was read, or the sample body was mapped' },
    stage: {
      type: 'string',
      enum: ['configuration', 'connection', 'authentication', 'request', 'body', 'read'],
      description: 'how far it got; body: the sample holds no updates where the connector expects them',
    },
    message: { type: 'string', description: 'on failure, what went wrong and what to check' },
    source: {
      type: 'string',
      enum: ['page', 'sample'],
      description: 'what was mapped: the first page of the system, or the sample body',
    },
    recordsRead: { type: 'integer' },
    hasMore: { type: 'boolean' },
    stored: {
      type: 'object',
      properties: {
        count: { type: 'integer' },
        examples: {
          type: 'array',
          items: {
            type: 'object',
            properties: {
              dossierCode: { type: 'string' },
              status: { type: 'integer' },
              sourceStatus: { type: 'string' },
              submittedAt: nullableTime,
              dueAt: nullableTime,
              sourceUpdatedAt: { type: 'string', format: 'date-time' },
              fields: {
                type: 'array',
                description: 'every canonical field it would store, beside what the source wrote',
                items: {
                  type: 'object',
                  required: ['field', 'stored', 'sources'],
                  properties: {
                    field: { type: 'string' },
                    stored: {
                      type: ['string', 'number', 'null'],
                      description: 'as stored; dates in Vietnam time, e.g. 2026-11-27T08:00:00+07:00',
                    },
                    sources: {
                      type: 'array',
                      items: {
                        type: 'object',
                        required: ['path'],
                        properties: {
                          path: { type: 'string' },
                          value: {
                            description:
                              'what the record holds at the path (a scalar as written); absent: the record has no such path',
                          },
                        },
                      },
                    },
                    note: {
                      type: 'string',
                      description: "how the stored value came about: a default, a former province's successor",
                    },
                  },
                },
              },
            },
          },
        },
      },
    },
    deadLettered: {
      type: 'object',
      properties: {
        count: { type: 'integer' },
        percent: { type: 'number', description: 'share of the records read, 0 to 100' },
        byReason: {
          type: 'array',
          items: {
            type: 'object',
            properties: {
              reason: { type: 'string' },
              count: { type: 'integer' },
              examples: {
                type: 'array',
                items: { type: 'object', properties: { dossierCode: nullableText, message: { type: 'string' } } },
              },
            },
          },
        },
      },
    },
    warnings: {
      type: 'array',
      description: 'mapped paths that no record read has, each with what it costs',
      items: {
        type: 'object',
        properties: { field: { type: 'string' }, path: { type: 'string' }, message: { type: 'string' } },
      },
    },
    acceptedDeadLetterPercent: { type: 'number' },
    passed: { type: 'boolean', description: 'ok, and no more than the accepted share would be dead-lettered' },
  },
} as const;

/**
 * What a check may be asked: a sample pushed body instead of a page, and a share of dead letters accepted. No body:
 * read a page, accept none.
 */
const checkBody = {
  type: ['object', 'null'],
  additionalProperties: false,
  properties: {
    sample: {
      description:
        'a webhook body (any JSON) as the system pushes it: mapped without any network instead of reading a page; required for a push-only connector',
    },
    acceptDeadLetters: {
      type: 'number',
      minimum: 0,
      maximum: 100,
      description: 'the share of records (percent) that may be dead-lettered and the check still pass; default 0',
    },
  },
} as const;

const idParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', pattern: '^[a-z0-9][a-z0-9-]{0,62}$', description: 'the connector id' } },
} as const;

/** A definition in the body: a JSON object, or YAML text (Content-Type: application/yaml). */
const definitionBody = {
  description: 'a connector definition: JSON, or YAML with Content-Type application/yaml',
  anyOf: [{ type: 'object' }, { type: 'string' }],
} as const;

/** A route's schema with its OpenAPI summary and tags (keys fastify passes through to the OpenAPI document). */
const documented = (schema: FastifySchema & { summary: string; tags: string[] }): FastifySchema => schema;
const problems = (...statuses: number[]) => Object.fromEntries(statuses.map((status) => [status, problemSchema]));
const tags = ['admin: connectors'];

/** Reads the body's definition; undefined (after a 422 problem was sent) when it does not validate. */
function submittedDefinition(body: unknown, reply: FastifyReply, expectedId?: string): SubmittedDefinition | undefined {
  let submitted: SubmittedDefinition;
  try {
    submitted = typeof body === 'string' ? definitionFromText(body, 'body') : definitionFromDocument(body);
  } catch (error) {
    if (!(error instanceof DefinitionError)) throw error;
    void sendProblem(
      reply,
      problem('invalid_definition', `the connector definition is not valid: ${error.problems.join('; ')}`, {
        errors: error.problems,
      }),
    );
    return undefined;
  }
  if (expectedId !== undefined && submitted.definition.id !== expectedId) {
    const line = `id: expected ${JSON.stringify(expectedId)} (the connector in the URL), got ${JSON.stringify(submitted.definition.id)}`;
    void sendProblem(
      reply,
      problem('invalid_definition', `the connector definition is not valid: ${line}`, { errors: [line] }),
    );
    return undefined;
  }
  return submitted;
}

/** The registry's refusals as problems: 404 `not_found`, 409 `conflict`. */
async function answer<T>(reply: FastifyReply, work: () => Promise<T>): Promise<T | FastifyReply> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof RegistryError) return sendProblem(reply, problem(error.code, error.message));
    throw error;
  }
}

export function registerConnectorRoutes(api: FastifyInstance, db: Kysely<Database>): void {
  const registry = new ConnectorRegistry(db);

  api.get<{ Querystring: { all?: boolean } }>(
    '/connectors',
    {
      schema: documented({
        summary: 'List connectors with state, last success, last error and cursor',
        tags,
        querystring: {
          type: 'object',
          properties: { all: { type: 'boolean', default: false, description: 'include removed connectors' } },
        },
        response: {
          200: {
            type: 'object',
            required: ['connectors'],
            properties: { connectors: { type: 'array', items: connectorSummarySchema } },
          },
          ...problems(400, 401, 403),
        },
      }),
    },
    async (request) => connectorListView(await registry.list({ includeRemoved: request.query.all === true })),
  );

  api.get<{ Params: { id: string } }>(
    '/connectors/:id',
    {
      schema: documented({
        summary: 'One connector: its definition, state and cursor',
        tags,
        params: idParams,
        response: { 200: connectorSchema, ...problems(400, 401, 403, 404) },
      }),
    },
    async (request, reply) => answer(reply, async () => connectorView(await registry.get(request.params.id), true)),
  );

  api.post(
    '/connectors',
    {
      schema: documented({
        summary: 'Validate, store and schedule a new connector (a removed one is registered again)',
        tags,
        body: definitionBody,
        response: { 201: connectorSchema, ...problems(400, 401, 403, 409, 415, 422) },
      }),
    },
    async (request, reply) => {
      const submitted = submittedDefinition(request.body, reply);
      if (!submitted) return reply;
      return answer(reply, async () => {
        const { connector } = await registry.add(submitted);
        return reply
          .code(201)
          .header('location', `${request.url.split('?')[0]}/${connector.id}`)
          .send(connectorView(connector, true));
      });
    },
  );

  api.put<{ Params: { id: string } }>(
    '/connectors/:id',
    {
      schema: documented({
        summary: "Replace a connector's definition (its state, cursor and data are kept)",
        tags,
        params: idParams,
        body: definitionBody,
        response: { 200: connectorSchema, ...problems(400, 401, 403, 404, 409, 415, 422) },
      }),
    },
    async (request, reply) => {
      const submitted = submittedDefinition(request.body, reply, request.params.id);
      if (!submitted) return reply;
      return answer(reply, async () => connectorView(await registry.update(submitted), true));
    },
  );

  const stateRoute = (
    path: string,
    method: 'POST' | 'DELETE',
    summary: string,
    move: (id: string) => ReturnType<ConnectorRegistry['pause']>,
  ) =>
    api.route<{ Params: { id: string } }>({
      method,
      url: path,
      schema: documented({
        summary,
        tags,
        params: idParams,
        response: { 200: connectorSummarySchema, ...problems(400, 401, 403, 404, 409) },
      }),
      handler: async (request, reply) =>
        answer(reply, async () => connectorView((await move(request.params.id)).connector, false)),
    });
  stateRoute('/connectors/:id/pause', 'POST', 'Stop scheduling poll runs (cursor and data kept)', (id) =>
    registry.pause(id),
  );
  stateRoute('/connectors/:id/resume', 'POST', 'Schedule poll runs again, from the committed cursor', (id) =>
    registry.resume(id),
  );
  stateRoute(
    '/connectors/:id',
    'DELETE',
    'Remove: stop scheduling for good; dossiers, cursor and dead letters are kept',
    (id) => registry.remove(id),
  );

  api.post<{ Params: { id: string }; Body: { sample?: unknown; acceptDeadLetters?: number } | null }>(
    '/connectors/:id/check',
    {
      schema: documented({
        summary:
          'Connect, authenticate, read and map one page, or map a sample pushed body: what would be stored and dead-lettered, and why (writes nothing)',
        tags,
        params: idParams,
        body: checkBody,
        response: { 200: checkResultSchema, ...problems(400, 401, 403, 404, 415, 422) },
      }),
    },
    async (request, reply) =>
      answer(reply, async () => {
        const settings = connectorSettings(await registry.get(request.params.id));
        const asked = request.body ?? {};
        try {
          return await checkConnector(settings, {
            acceptDeadLetters: asked.acceptDeadLetters ?? 0,
            ...('sample' in asked ? { sample: asked.sample } : {}),
          });
        } catch (error) {
          if (!(error instanceof CheckInputError)) throw error;
          return sendProblem(
            reply,
            problem(
              error.code,
              `${error.message}${error.code === 'sample_required' ? ' as "sample" in the request body' : ''}`,
            ),
          );
        }
      }),
  );
}
