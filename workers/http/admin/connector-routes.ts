import type { FastifyReply } from 'fastify';
import type { Kysely } from 'kysely';
import { z } from 'zod';
import { deadLetterReasons, type DeadLetterReason } from '../../../config/error-catalogue.js';
import { codeSets, type CodeSet } from '../../../config/provinces.js';
import { DefinitionError } from '../../../connectors/sdk/definition-error.js';
import type { Database } from '../../../db/schema.js';
import { problem, problemResponses, sendProblem } from '../problem.js';
import { jsonResponse, type ZodApi } from '../openapi.js';
import { requestActor } from './request-actor.js';
import { checkConnector, CheckInputError } from '../../control-plane/check-connector.js';
import { connectorListView, connectorView } from '../../control-plane/connector-view.js';
import { definitionJsonSchema } from '../../control-plane/definition-json-schema.js';
import {
  ConnectorRegistry,
  connectorSettings,
  definitionFromDocument,
  definitionFromText,
  RegistryError,
  type ChangeOptions,
  type SubmittedDefinition,
} from '../../control-plane/connector-registry.js';

// The connector registry over HTTP: `/v1/admin/connectors`. The same operations as `fleet connector …`; each
// route with its zod schemas beside it.

/** A time as the views give it: ISO 8601 in UTC (`isoTime`). */
export const isoTime = z.string().meta({ format: 'date-time' });
const nullableTime = isoTime.nullable();

/** A connector id in a path: what `definitionFile` accepts as an id. */
export const connectorIdParams = z.object({
  id: z
    .string()
    .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, {
      error: 'expected a connector id of lowercase letters, digits and dashes (at most 63), such as hcm-igate',
    })
    .describe('the connector id'),
});

export const codeSet = z
  .enum(codeSets as [CodeSet, ...CodeSet[]])
  .describe("the code set of the source's province code");
export const connectorState = z.enum(['active', 'paused', 'removed']);

/** A connector as listed. */
const connectorSummary = z
  .object({
    id: z.string(),
    description: z.string().nullable(),
    provinceCode: z.string().describe("the source's province code, in its code set"),
    codeSet,
    kind: z.string().describe('declarative, or the plugin name'),
    state: connectorState,
    polled: z
      .boolean()
      .describe('false for a connector whose system only pushes: never polled, no cursor, no last poll'),
    pollIntervalMs: z.int().describe('between poll runs (not used for a push-only connector)'),
    createdAt: isoTime,
    updatedAt: isoTime,
    lastSuccessAt: nullableTime,
    lastErrorAt: nullableTime,
    lastError: z.string().nullable(),
    cursor: z
      .object({
        position: z.unknown().describe("the connector's own cursor (any JSON)"),
        recordsCommitted: z.int(),
        updatedAt: nullableTime,
      })
      .nullable()
      .describe('the committed position in the source; null before the first committed page'),
  })
  .meta({
    id: 'ConnectorSummary',
    description: 'a connector as listed: state, schedule, last success and error, cursor',
  });

/** A connector with its definition. */
const connector = connectorSummary
  .extend({
    definition: z.unknown().describe('the definition as submitted (secrets only as references)'),
    config: z.unknown().describe("the kind's validated configuration, defaults filled in"),
  })
  .meta({ id: 'Connector', description: 'a connector with its definition and its validated configuration' });

const checkField = z.object({
  field: z.string(),
  stored: z
    .union([z.string(), z.number(), z.null()])
    .describe('as stored; dates in Vietnam time, e.g. 2026-11-27T08:00:00+07:00'),
  sources: z.array(
    z.object({
      path: z.string(),
      value: z
        .unknown()
        .optional()
        .describe('what the record holds at the path (a scalar as written); absent: the record has no such path'),
    }),
  ),
  note: z.string().optional().describe("how the stored value came about: a default, a former province's successor"),
});

const checkResult = z
  .object({
    connectorId: z.string(),
    kind: z.string(),
    provinceCode: z.string(),
    ok: z.boolean().describe('a page was read, or the sample body was mapped'),
    stage: z
      .enum(['configuration', 'connection', 'authentication', 'request', 'body', 'read'])
      .describe('how far it got; body: the sample holds no updates where the connector expects them'),
    message: z.string().describe('on failure, what went wrong and what to check'),
    source: z.enum(['page', 'sample']).describe('what was mapped: the first page of the system, or the sample body'),
    recordsRead: z.int(),
    hasMore: z.boolean(),
    stored: z.object({
      count: z.int(),
      examples: z.array(
        z.object({
          dossierCode: z.string(),
          status: z.int(),
          sourceStatus: z.string(),
          submittedAt: z.string().nullable(),
          dueAt: z.string().nullable(),
          sourceUpdatedAt: z.string(),
          fields: z.array(checkField).describe('every canonical field it would store, beside what the source wrote'),
        }),
      ),
    }),
    deadLettered: z.object({
      count: z.int(),
      percent: z.number().describe('share of the records read, 0 to 100'),
      byReason: z.array(
        z.object({
          reason: z.enum(Object.keys(deadLetterReasons) as [DeadLetterReason, ...DeadLetterReason[]]),
          count: z.int(),
          examples: z.array(z.object({ dossierCode: z.string().nullable(), message: z.string() })),
        }),
      ),
    }),
    warnings: z
      .array(z.object({ field: z.string(), path: z.string(), message: z.string() }))
      .describe('mapped paths that no record read has, each with what it costs'),
    acceptedDeadLetterPercent: z.number(),
    passed: z.boolean().describe('ok, and no more than the accepted share would be dead-lettered'),
  })
  .meta({ id: 'CheckResult', description: 'what a check found; nothing of it is stored' });

/**
 * What a check may be asked: a sample pushed body instead of a page, and a share of dead letters accepted. No body:
 * read a page, accept none.
 */
const checkBody = z
  .strictObject({
    sample: z
      .unknown()
      .optional()
      .describe(
        'a webhook body (any JSON) as the system pushes it: mapped without any network instead of reading a page; required for a push-only connector',
      ),
    acceptDeadLetters: z
      .number({ error: 'expected a percentage from 0 to 100' })
      .min(0, { error: 'expected a percentage from 0 to 100' })
      .max(100, { error: 'expected a percentage from 0 to 100' })
      .optional()
      .describe('the share of records (percent) that may be dead-lettered and the check still pass; default 0'),
  })
  .nullable();

const { $id: _id, $schema: _schema, ...definitionDocument } = definitionJsonSchema();
/**
 * A definition as JSON. The route takes any object, and the handler validates it with the same zod declarations as
 * `fleet connector add` (workers/control-plane/definition.ts), because only they give a 422 `invalid_definition`
 * naming every path with what was found, and check what no schema can: the province catalogue, the plugin's own
 * configuration. The document shows the JSON Schema those declarations generate (connectors/declarative/schema.json).
 */
const connectorDefinition = z
  .record(z.string(), z.unknown())
  .meta({ id: 'ConnectorDefinition', ...definitionDocument });

/** Media types of a definition sent as YAML (JSON is parsed by fastify itself). */
export const yamlTypes = ['application/yaml', 'application/x-yaml', 'text/yaml'];

/** A definition in the body: a JSON object, or YAML text (Content-Type: application/yaml). */
const definitionBody = z
  .union([connectorDefinition, z.string().describe('the definition as YAML, with Content-Type application/yaml')])
  .describe('a connector definition: JSON, or YAML with Content-Type application/yaml');
const definitionTypes = ['application/json', ...yamlTypes];

const tags = ['admin: connectors'];
const security = [{ apiKey: [] }];
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

/**
 * The registry's refusals as problems: 404 `not_found` (also for a connector of a province the key does not hold,
 * in the same words), 409 `conflict`, 403 `forbidden` (a definition naming a province the key does not hold).
 */
async function answer<T>(reply: FastifyReply, work: () => Promise<T>): Promise<T | FastifyReply> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof RegistryError) return sendProblem(reply, problem(error.code, error.message));
    throw error;
  }
}

/** Registers the connector routes on the admin API: list, show, add, update, pause, resume, remove, check. */
export function registerConnectorRoutes(api: ZodApi, db: Kysely<Database>): void {
  const registry = new ConnectorRegistry(db);

  api.get(
    '/connectors',
    {
      schema: {
        summary: 'List connectors with state, last success, last error and cursor',
        tags,
        security,
        querystring: z.object({
          all: z
            .enum(['true', 'false'], { error: 'expected true or false' })
            .default('false')
            .transform((value) => value === 'true')
            .describe('include removed connectors'),
        }),
        response: { 200: jsonResponse('the connectors', z.object({ connectors: z.array(connectorSummary) })) },
      },
    },
    async (request) => connectorListView(await registry.list({ includeRemoved: request.query.all }, request.apiKey)),
  );

  api.get(
    '/connectors/:id',
    {
      schema: {
        summary: 'One connector: its definition, state and cursor',
        tags,
        security,
        params: connectorIdParams,
        response: {
          200: jsonResponse('the connector: its definition, state and cursor', connector),
          ...problemResponses(404),
        },
      },
    },
    async (request, reply) =>
      answer(reply, async () => connectorView(await registry.get(request.params.id, request.apiKey), true)),
  );

  api.post(
    '/connectors',
    {
      schema: {
        summary: 'Validate, store and schedule a new connector (a removed one is registered again)',
        tags,
        security,
        consumes: definitionTypes,
        body: definitionBody,
        response: {
          201: jsonResponse('the connector, registered and scheduled', connector),
          ...problemResponses(409, 413, 415, 422),
        },
      },
    },
    async (request, reply) => {
      const submitted = submittedDefinition(request.body, reply);
      if (!submitted) return reply;
      return answer(reply, async () => {
        const { connector } = await registry.add(submitted, { actor: requestActor(request), scope: request.apiKey });
        return reply
          .code(201)
          .header('location', `${request.url.split('?')[0]}/${connector.id}`)
          .send(connectorView(connector, true));
      });
    },
  );

  api.put(
    '/connectors/:id',
    {
      schema: {
        summary: "Replace a connector's definition (its state, cursor and data are kept)",
        tags,
        security,
        params: connectorIdParams,
        consumes: definitionTypes,
        body: definitionBody,
        response: {
          200: jsonResponse('the connector with its new definition', connector),
          ...problemResponses(404, 409, 413, 415, 422),
        },
      },
    },
    async (request, reply) => {
      const submitted = submittedDefinition(request.body, reply, request.params.id);
      if (!submitted) return reply;
      return answer(reply, async () =>
        connectorView(await registry.update(submitted, { actor: requestActor(request), scope: request.apiKey }), true),
      );
    },
  );

  const stateRoute = (
    path: string,
    method: 'POST' | 'DELETE',
    summary: string,
    move: (id: string, options: ChangeOptions) => ReturnType<ConnectorRegistry['pause']>,
  ) =>
    api.route({
      method,
      url: path,
      schema: {
        summary,
        tags,
        security,
        params: connectorIdParams,
        response: {
          200: jsonResponse('the connector in its new state', connectorSummary),
          ...problemResponses(404, 409),
        },
      },
      handler: async (request, reply) =>
        answer(reply, async () =>
          connectorView(
            (await move(request.params.id, { actor: requestActor(request), scope: request.apiKey })).connector,
            false,
          ),
        ),
    });
  stateRoute('/connectors/:id/pause', 'POST', 'Stop scheduling poll runs (cursor and data kept)', (id, options) =>
    registry.pause(id, options),
  );
  stateRoute('/connectors/:id/resume', 'POST', 'Schedule poll runs again, from the committed cursor', (id, options) =>
    registry.resume(id, options),
  );
  stateRoute(
    '/connectors/:id',
    'DELETE',
    'Remove: stop scheduling for good; dossiers, cursor and dead letters are kept',
    (id, options) => registry.remove(id, options),
  );

  api.post(
    '/connectors/:id/check',
    {
      schema: {
        summary:
          'Connect, authenticate, read and map one page, or map a sample pushed body: what would be stored and dead-lettered, and why (writes nothing)',
        tags,
        security,
        params: connectorIdParams,
        body: checkBody,
        response: { 200: jsonResponse('what the check found', checkResult), ...problemResponses(404, 413, 415, 422) },
      },
    },
    async (request, reply) =>
      answer(reply, async () => {
        const settings = connectorSettings(await registry.get(request.params.id, request.apiKey));
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
