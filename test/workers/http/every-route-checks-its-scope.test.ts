import { cliActor } from '../../../workers/control-plane/audit.js';
import Fastify, { type FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createApiKey, revokeApiKey } from '../../../workers/control-plane/api-key-store.js';
import { adminApi } from '../../../workers/http/admin/admin-api.js';
import { registerOpenApi } from '../../../workers/http/openapi.js';
import { readApi } from '../../../workers/http/read/read-api.js';
import { BackgroundErrorReporter } from '../../../workers/background-error-reporter.js';
import { createLogger } from '../../../workers/logger.js';
import { openIngestQueue, type IngestQueue } from '../../../workers/queue/ingest-queue.js';
import { createTestEnvironment, type TestEnvironment } from '../../support/test-environment.js';
import { servedRoutes, startGatewayServer, type GatewayServer } from './gateway-server.js';

// Every route behind a key checks its scope: no key, an unknown or a revoked key → 401; a key of the other scope →
// 403 (a portal:read key on /v1/admin/*, an admin key on the read API). The verified key is request.apiKey for the
// hooks and handlers after it. Walks the gateway's own route tree, so read routes added later are held to it too.

let env: TestEnvironment;
let gateway: GatewayServer;
let plugins: FastifyInstance;
let pluginsUrl: string;
let ingest: IngestQueue;
const keys: Record<'admin' | 'portal' | 'revoked', { id: string; key: string }> = {} as never;

/** Routes that take no API key: health, metrics, the document, and webhooks (signed per Standard Webhooks). */
const open = (route: string) =>
  / \/(healthz|readyz|health\/live|health\/ready|metrics)$| \/v1\/openapi\.json$| \/v1\/webhooks\//.test(route);

async function call(base: string, route: string, key?: string) {
  const [method, path] = route.split(' ') as [string, string];
  const response = await fetch(`${base}${path.replace(/\{[^}]+\}/g, 'x1')}`, {
    method,
    headers: key ? { authorization: `Bearer ${key}` } : {},
  });
  const type = response.headers.get('content-type');
  return { status: response.status, type, body: (await response.json()) as Record<string, unknown> };
}

beforeAll(async () => {
  env = await createTestEnvironment();
  gateway = await startGatewayServer(env);
  keys.admin = await createApiKey(env.db, 'ops', 'admin', { actor: cliActor() });
  keys.portal = await createApiKey(env.db, 'portal', 'portal:read', { actor: cliActor() });
  keys.revoked = await createApiKey(env.db, 'former portal', 'portal:read', { actor: cliActor() });
  await revokeApiKey(env.db, keys.revoked.id, { actor: cliActor() });

  // The two plugins as the server mounts them, with a test-only read route that shows what the handler sees.
  plugins = Fastify();
  await registerOpenApi(plugins);
  await plugins.register(
    async (api) => {
      await readApi(api, { db: env.db });
      api.withTypeProvider<ZodTypeProvider>().get(
        '/test-only/who-asks',
        {
          schema: {
            summary: 'test only',
            tags: ['test'],
            response: { 200: z.object({ apiKey: z.object({ id: z.string(), name: z.string(), scope: z.string() }) }) },
          },
        },
        async (request) => ({ apiKey: request.apiKey! }),
      );
    },
    { prefix: '/v1' },
  );
  ingest = await openIngestQueue(
    env.config.REDIS_URL,
    env.config.QUEUE_PREFIX,
    new BackgroundErrorReporter(createLogger('silent')),
  );
  await plugins.register(adminApi, { db: env.db, ingest, prefix: '/v1/admin' });
  pluginsUrl = await plugins.listen({ host: '127.0.0.1', port: 0 });
});
afterAll(async () => {
  await plugins?.close();
  await ingest?.close();
  await gateway?.close();
  await env?.cleanup();
});

describe('every route of the gateway behind a key', () => {
  const guarded = () => servedRoutes(gateway.server).filter((route) => !open(route));

  it('includes the admin API', () => {
    expect(guarded()).toEqual(expect.arrayContaining(['GET /v1/admin/connectors', 'DELETE /v1/admin/connectors/{id}']));
  });

  it('answers 401 unauthorized without a key, with an unknown key and with a revoked one', async () => {
    for (const route of guarded()) {
      const scope = route.includes(' /v1/admin') ? 'admin' : 'portal:read';
      expect(await call(gateway.url, route), route).toMatchObject({
        status: 401,
        type: expect.stringMatching(/^application\/problem\+json/),
        body: { code: 'unauthorized', detail: expect.stringContaining(`needs an API key with scope ${scope}`) },
      });
      expect(await call(gateway.url, route, `dsk_${'B'.repeat(43)}`), route).toMatchObject({
        status: 401,
        body: { code: 'unauthorized', detail: expect.stringMatching(/not valid/) },
      });
      expect(await call(gateway.url, route, keys.revoked.key), route).toMatchObject({
        status: 401,
        body: { code: 'unauthorized', detail: expect.stringMatching(/revoked/) },
      });
    }
  });

  it('answers 403 forbidden to a key of the other scope: portal:read on /v1/admin, admin on the read API', async () => {
    for (const route of guarded()) {
      const admin = route.includes(' /v1/admin');
      const [wrong, needed] = admin ? [keys.portal, 'admin'] : [keys.admin, 'portal:read'];
      expect(await call(gateway.url, route, wrong.key), route).toMatchObject({
        status: 403,
        type: expect.stringMatching(/^application\/problem\+json/),
        body: {
          code: 'forbidden',
          detail: `API key ${wrong.id} has scope ${admin ? 'portal:read' : 'admin'}; this API needs a key with scope ${needed}`,
        },
      });
    }
  });
});

describe('a read route', () => {
  it('lets a portal:read key through, and its handler sees the key as request.apiKey', async () => {
    expect(await call(pluginsUrl, 'GET /v1/test-only/who-asks', keys.portal.key)).toMatchObject({
      status: 200,
      body: { apiKey: { id: keys.portal.id, name: 'portal', scope: 'portal:read' } },
    });
  });

  it('refuses an admin key with 403, no key with 401', async () => {
    expect(await call(pluginsUrl, 'GET /v1/test-only/who-asks', keys.admin.key)).toMatchObject({
      status: 403,
      body: {
        code: 'forbidden',
        detail: `API key ${keys.admin.id} has scope admin; this API needs a key with scope portal:read`,
      },
    });
    expect(await call(pluginsUrl, 'GET /v1/test-only/who-asks')).toMatchObject({
      status: 401,
      body: { code: 'unauthorized' },
    });
  });

  it('is documented as needing the key, with its 401 and 403 problems', async () => {
    const document = (await (await fetch(`${pluginsUrl}/v1/openapi.json`)).json()) as {
      paths: Record<string, { get: { security: unknown; responses: Record<string, unknown> } }>;
    };
    const operation = document.paths['/v1/test-only/who-asks']!.get;
    expect(operation.security).toEqual([{ apiKey: [] }]);
    expect(Object.keys(operation.responses)).toEqual(expect.arrayContaining(['200', '401', '403']));
  });
});
