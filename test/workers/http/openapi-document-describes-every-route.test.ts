import { isDeepStrictEqual } from 'node:util';
import { Validator } from '@seriousme/openapi-schema-validator';
import type { OpenAPIV3_1 } from 'openapi-types';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFailFastRedis, type RedisConnection } from '../../../workers/redis.js';
import { createTestEnvironment, type TestEnvironment } from '../../support/test-environment.js';
import { servedRoutes, startGatewayServer, type GatewayServer } from './gateway-server.js';

// GET /v1/openapi.json of a gateway's server (admin, read and webhooks mounted, rate-limited) is a valid OpenAPI 3.1
// document that describes exactly the routes fastify serves: each with a summary, tags and its responses, errors as
// problems referencing components.schemas.Problem. Generic: it walks the document and the server's route tree, so
// every route added later is held to it too.

type Operation = OpenAPIV3_1.OperationObject;

let env: TestEnvironment;
let gateway: GatewayServer;
let redis: RedisConnection;
let document: OpenAPIV3_1.Document;
const methods = ['get', 'put', 'post', 'delete', 'patch', 'options', 'head', 'trace'] as const;
/** Paths fastify serves that are not API: the document itself, and Prometheus' text. */
const undocumented = ['GET /v1/openapi.json', 'GET /metrics'];

function operations(): { route: string; operation: Operation }[] {
  return Object.entries(document.paths ?? {}).flatMap(([path, item]) =>
    methods.flatMap((method) => {
      const operation = item?.[method];
      return operation ? [{ route: `${method.toUpperCase()} ${path}`, operation }] : [];
    }),
  );
}

/** Every object inside `value`, with where it is. */
function* objectsIn(value: unknown, where: string): Generator<{ where: string; object: Record<string, unknown> }> {
  if (Array.isArray(value)) {
    for (const [index, item] of value.entries()) yield* objectsIn(item, `${where}[${index}]`);
  } else if (value !== null && typeof value === 'object') {
    yield { where, object: value as Record<string, unknown> };
    for (const [key, child] of Object.entries(value)) yield* objectsIn(child, `${where}.${key}`);
  }
}

beforeAll(async () => {
  env = await createTestEnvironment();
  redis = createFailFastRedis(env.config.REDIS_URL);
  gateway = await startGatewayServer(env, { rateLimit: { redis, prefix: env.config.QUEUE_PREFIX, max: 100 } });
  const response = await fetch(`${gateway.url}/v1/openapi.json`);
  expect(response.status).toBe(200);
  document = (await response.json()) as OpenAPIV3_1.Document;
});
afterAll(async () => {
  await gateway?.close();
  redis?.disconnect();
  await env?.cleanup();
});

it('is a valid OpenAPI 3.1 document whose every $ref resolves', async () => {
  const validator = new Validator();
  const result = await validator.validate(document as never);
  expect(result.errors ?? []).toEqual([]);
  expect(result.valid).toBe(true);
  expect(validator.version).toBe('3.1');
  const names = new Set(Object.keys(document.components?.schemas ?? {}));
  for (const { where, object } of objectsIn(document, '$')) {
    if (typeof object.$ref !== 'string') continue;
    expect(object.$ref, where).toMatch(/^#\/components\/schemas\//);
    expect(names.has(object.$ref.slice('#/components/schemas/'.length)), `${where}: ${object.$ref}`).toBe(true);
  }
});

it('has a path for every route fastify serves, and no other', () => {
  const served = servedRoutes(gateway.server).filter((route) => !undocumented.includes(route));
  expect(served).toEqual(
    expect.arrayContaining(['GET /healthz', 'GET /v1/admin/connectors', 'POST /v1/webhooks/{connectorId}']),
  );
  expect(
    operations()
      .map(({ route }) => route)
      .sort(),
  ).toEqual(served);
});

describe('every operation', () => {
  it('has a summary, tags and a success response, every response saying what it means', () => {
    for (const { route, operation } of operations()) {
      expect(operation.summary, route).toEqual(expect.stringMatching(/\S/));
      expect(operation.tags?.length, route).toBeGreaterThan(0);
      for (const tag of operation.tags ?? []) expect(tag, route).toMatch(/\S/);
      expect(
        Object.keys(operation.responses ?? {}).some((status) => /^2\d\d$/.test(status)),
        route,
      ).toBe(true);
      for (const [status, response] of Object.entries(operation.responses ?? {}))
        expect((response as { description?: string }).description, `${route} ${status}`).not.toMatch(
          /^(Default Response)?$/,
        );
    }
  });

  it('answers its errors as problems, referencing components.schemas.Problem', () => {
    const problem = { $ref: '#/components/schemas/Problem' };
    for (const { route, operation } of operations()) {
      const responses = operation.responses as Record<string, OpenAPIV3_1.ResponseObject>;
      for (const [status, response] of Object.entries(responses)) {
        expect(response.description, `${route} ${status}`).toEqual(expect.stringMatching(/\S/));
        if (Number(status) < 400 || !response.content?.['application/problem+json']) continue;
        expect(response.content['application/problem+json'].schema, `${route} ${status}`).toEqual(problem);
      }
      const problems = (...statuses: number[]) =>
        Object.fromEntries(
          statuses.map((status) => [
            status,
            { description: expect.any(String), content: { 'application/problem+json': { schema: problem } } },
          ]),
        );
      // A route that takes input refuses what does not match its schema; a route behind a key refuses no key, the
      // wrong scope and too many requests.
      if ((operation.parameters?.length ?? 0) > 0 || operation.requestBody)
        expect(responses, route).toMatchObject(problems(400));
      if (operation.security?.length) {
        expect(operation.security, route).toEqual([{ apiKey: [] }]);
        expect(responses, route).toMatchObject(problems(401, 403, 429));
      }
    }
  });

  it('needs an API key, but health and webhooks (signed per Standard Webhooks)', () => {
    for (const { route, operation } of operations()) {
      if (operation.tags?.some((tag) => tag === 'health' || tag === 'webhooks'))
        expect(operation.security, route).toBeUndefined();
      else expect(operation.security, route).toEqual([{ apiKey: [] }]);
    }
    expect(document.components?.securitySchemes?.apiKey).toMatchObject({ type: 'http', scheme: 'bearer' });
  });
});

it('names its schemas once in components and references them, with no inline copy', () => {
  const schemas = document.components?.schemas ?? {};
  expect(Object.keys(schemas)).toEqual(expect.arrayContaining(['Problem', 'Connector', 'ConnectorSummary']));
  const problemProperties = Object.keys((schemas.Problem as OpenAPIV3_1.SchemaObject).properties ?? {}).sort();
  expect(problemProperties).toEqual(['code', 'detail', 'errors', 'instance', 'status', 'title', 'type']);

  for (const { where, object } of objectsIn({ paths: document.paths, components: schemas }, '$')) {
    const properties = object.properties as Record<string, unknown> | undefined;
    if (properties && where !== '$.components.Problem')
      expect(Object.keys(properties).sort(), `${where} is an inline copy of Problem`).not.toEqual(problemProperties);
    for (const [name, schema] of Object.entries(schemas)) {
      if (where === `$.components.${name}`) continue;
      expect(isDeepStrictEqual(object, schema), `${where} is an inline copy of ${name}`).toBe(false);
    }
  }
  // Each component is referenced, as read or as written: none is there for nothing.
  const referenced = new Set(
    [...objectsIn(document.paths, '$')].flatMap(({ object }) =>
      typeof object.$ref === 'string' ? [object.$ref.split('/').pop()!] : [],
    ),
  );
  for (const { object } of objectsIn(schemas, '$'))
    if (typeof object.$ref === 'string') referenced.add(object.$ref.split('/').pop()!);
  expect(Object.keys(schemas).filter((name) => !referenced.has(name))).toEqual([]);
});

it('is served without a key, and shows the connector definition as its zod declarations generate it', async () => {
  const response = await fetch(`${gateway.url}/v1/openapi.json`);
  expect(response.headers.get('content-type')).toMatch(/^application\/json/);
  // The connector definition is the JSON Schema generated from the zod declarations that validate it.
  const definition = document.components?.schemas?.ConnectorDefinition as OpenAPIV3_1.SchemaObject;
  expect(definition.properties).toHaveProperty('province');
  expect(definition.oneOf).toHaveLength(3);
});

it('describes starting and cancelling a backfill: the request body, 202 with the run, and the refusals', () => {
  const start = document.paths?.['/v1/admin/connectors/{id}/backfill']?.post;
  expect(start?.requestBody).toMatchObject({
    content: { 'application/json': { schema: { $ref: '#/components/schemas/BackfillRequest' } } },
  });
  expect(Object.keys(start?.responses ?? {})).toEqual(expect.arrayContaining(['202', '400', '404', '409', '422']));
  const accepted = (start?.responses as Record<string, OpenAPIV3_1.ResponseObject>)['202'];
  expect(JSON.stringify(accepted?.content?.['application/json']?.schema)).toContain('#/components/schemas/BackfillRun');
  const request = document.components?.schemas?.BackfillRequest as OpenAPIV3_1.SchemaObject;
  expect(Object.keys(request.properties ?? {}).sort()).toEqual(['from', 'to', 'windowHours']);
  expect(request.required?.sort()).toEqual(['from', 'to']);
  const cancel = document.paths?.['/v1/admin/backfills/{id}/cancel']?.post;
  expect(Object.keys(cancel?.responses ?? {})).toEqual(expect.arrayContaining(['200', '404', '409']));
});
