import { cliActor } from '../../../workers/control-plane/audit.js';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createApiKey } from '../../../workers/control-plane/api-key-store.js';
import { createTestEnvironment, type TestEnvironment } from '../../support/test-environment.js';
import { startGatewayServer, type GatewayServer } from './gateway-server.js';

// Every error of the gateway's HTTP server is an RFC 9457 problem with a catalogue code: a route that does not exist
// (under /v1 or not), a parameter that does not match its schema (named, with what is expected), a body over the
// route's limit.

let env: TestEnvironment;
let gateway: GatewayServer;
let admin: string;

async function call(method: string, path: string, init: { body?: string; type?: string; key?: string } = {}) {
  const headers: Record<string, string> = {};
  if (init.key) headers.authorization = `Bearer ${init.key}`;
  if (init.type) headers['content-type'] = init.type;
  const response = await fetch(`${gateway.url}${path}`, { method, headers, ...(init.body ? { body: init.body } : {}) });
  expect(response.headers.get('content-type'), `${method} ${path}`).toMatch(/^application\/problem\+json/);
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

beforeAll(async () => {
  env = await createTestEnvironment();
  gateway = await startGatewayServer(env);
  ({ key: admin } = await createApiKey(env.db, 'ops', 'admin', { actor: cliActor() }));
});
afterAll(async () => {
  await gateway?.close();
  await env?.cleanup();
});

it('answers a route that does not exist with 404 not_found, under /v1 and outside it', async () => {
  for (const path of ['/v1/nothing-here', '/v1/dossiers-typo/01/X', '/nothing', '/v1']) {
    expect(await call('GET', path)).toEqual({
      status: 404,
      body: {
        type: 'urn:dossier-sync:problem:not_found',
        title: 'Not Found',
        status: 404,
        code: 'not_found',
        detail: `there is no GET ${path}; the routes are in the OpenAPI document, GET /v1/openapi.json`,
        instance: path,
      },
    });
  }
  expect(await call('DELETE', '/healthz')).toMatchObject({ status: 404, body: { code: 'not_found' } });
  expect(await call('GET', '/v1/webhooks/some-connector')).toMatchObject({ status: 404, body: { code: 'not_found' } });
});

it('answers a path that is not a valid URL with 400 bad_request', async () => {
  expect(await call('GET', '/v1/admin/connectors/%zz')).toMatchObject({
    status: 400,
    body: { code: 'bad_request', detail: "'/v1/admin/connectors/%zz' is not a valid url component" },
  });
});

it('names the parameter that does not match and what is expected (400 invalid_request)', async () => {
  expect(await call('GET', '/v1/admin/connectors?all=maybe', { key: admin })).toMatchObject({
    status: 400,
    body: { code: 'invalid_request', errors: ['querystring.all: expected true or false'] },
  });
  const badId = await call('POST', '/v1/admin/connectors/Not_An_Id/pause', { key: admin });
  expect(badId).toMatchObject({
    status: 400,
    body: {
      code: 'invalid_request',
      detail:
        'params.id: expected a connector id of lowercase letters, digits and dashes (at most 63), such as hcm-igate',
    },
  });
  const check = await call('POST', '/v1/admin/connectors/any/check', {
    key: admin,
    type: 'application/json',
    body: JSON.stringify({ acceptDeadLetters: 'five', extra: 1 }),
  });
  expect(check).toMatchObject({ status: 400, body: { code: 'invalid_request' } });
  expect(check.body.errors).toEqual(
    expect.arrayContaining([
      'body.acceptDeadLetters: expected a percentage from 0 to 100',
      expect.stringMatching(/^body: .*"extra"/),
    ]),
  );
});

it('refuses a body over the limit with 413 payload_too_large: 256 KiB on the admin API, in JSON or YAML', async () => {
  const big = 'x'.repeat(300 * 1024);
  for (const [type, body] of [
    ['application/json', JSON.stringify({ id: 'big', description: big })],
    ['application/yaml', `id: big\ndescription: ${big}\n`],
  ] as const) {
    expect(await call('POST', '/v1/admin/connectors', { key: admin, type, body })).toMatchObject({
      status: 413,
      body: {
        code: 'payload_too_large',
        detail:
          'the body is larger than 262144 bytes, the limit of POST /v1/admin/connectors; a connector definition is a few kilobytes',
      },
    });
  }
  expect(
    await call('PUT', '/v1/admin/connectors/big', {
      key: admin,
      type: 'application/json',
      body: JSON.stringify({ big }),
    }),
  ).toMatchObject({
    status: 413,
    body: { code: 'payload_too_large' },
  });
});

it('refuses a media type a route does not read with 415 unsupported_media_type, naming what it reads', async () => {
  expect(
    await call('POST', '/v1/admin/connectors', { key: admin, type: 'text/csv', body: 'id,province' }),
  ).toMatchObject({
    status: 415,
    body: {
      code: 'unsupported_media_type',
      detail: 'expected a body of type application/json or application/yaml, got "text/csv"',
    },
  });
});
