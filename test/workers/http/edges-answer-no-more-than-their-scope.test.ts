import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../../../workers/control-plane/api-key-store.js';
import { adminBodyLimitBytes } from '../../../workers/http/admin/admin-api.js';
import { defaultBodyLimitBytes } from '../../../workers/http/http-server.js';
import { createTestEnvironment, type TestEnvironment } from '../../support/test-environment.js';
import { servedRoutes, startGatewayServer, type GatewayServer } from './gateway-server.js';
import { cliActor } from '../../../workers/control-plane/audit.js';

// Least privilege at the edges: no route names the framework or the server (no Server, no X-Powered-By header), the
// health endpoints say only that the process is alive (and /metrics not the runtime's version), every route has a
// body limit — a GET takes no body at all — and a portal key cannot reach the admin API.

let env: TestEnvironment;
let gateway: GatewayServer;
let admin: string;
let portal: string;

/** Sends a request with node:http (fetch refuses a GET with a body); answers status, headers and text. */
function send(method: string, path: string, options: { key?: string; body?: string; type?: string } = {}) {
  return new Promise<{ status: number; headers: Record<string, unknown>; text: string }>((resolve, reject) => {
    const headers: Record<string, string> = {};
    if (options.key) headers.authorization = `Bearer ${options.key}`;
    if (options.body !== undefined) {
      headers['content-type'] = options.type ?? 'application/json';
      headers['content-length'] = String(Buffer.byteLength(options.body));
    }
    // A connection of its own: a refused body may leave the connection closed.
    const request = httpRequest(`${gateway.url}${path}`, { method, headers, agent: false }, (response) => {
      let text = '';
      response.on('data', (chunk: Buffer) => (text += chunk.toString()));
      response.on('end', () => resolve({ status: response.statusCode!, headers: response.headers, text }));
    });
    request.on('error', reject);
    request.end(options.body);
  });
}

beforeAll(async () => {
  env = await createTestEnvironment();
  gateway = await startGatewayServer(env);
  admin = (await createApiKey(env.db, 'ops', 'admin', { actor: cliActor() })).key;
  portal = (await createApiKey(env.db, 'portal', 'portal:read', { actor: cliActor() })).key;
});
afterAll(async () => {
  await gateway?.close();
  await env?.cleanup();
});

describe('the edges of the gateway', () => {
  it('name no framework nor server on any route, known or not, answered or refused', async () => {
    const routes = [...servedRoutes(gateway.server), 'GET /nowhere', 'POST /v1/admin/nowhere'];
    expect(routes.length).toBeGreaterThan(15);
    for (const route of routes) {
      const [method, template] = route.split(' ') as [string, string];
      const path = template.replace(/\{[^}]+\}/g, 'x1');
      const key = path.startsWith('/v1/admin') ? admin : portal;
      for (const asked of [{ key }, {}]) {
        const answer = await send(method, path, asked);
        expect(Object.keys(answer.headers), `${route} ${answer.status}`).not.toContain('server');
        expect(Object.keys(answer.headers), route).not.toContain('x-powered-by');
        expect(answer.text, route).not.toMatch(/fastify|nodejs_version_info|v\d+\.\d+\.\d+/i);
      }
    }
  });

  it('say of health only that the process is alive, with nothing a stranger could use', async () => {
    const health = await send('GET', '/healthz');
    expect(health.status).toBe(200);
    expect(health.text).toBe('{"status":"ok"}');
    for (const header of Object.keys(health.headers))
      expect(['connection', 'content-length', 'content-type', 'date', 'keep-alive']).toContain(header);
    // No dependency is configured in this server: ready, and the answer lists only names and fixed words.
    const ready = await send('GET', '/readyz');
    expect(JSON.parse(ready.text)).toEqual({ status: 'ready', checks: [] });
  });

  it('refuse a body on any GET, before the key is checked, and a body over the limit on every other route', async () => {
    for (const path of ['/v1/dossiers', '/v1/admin/connectors', '/healthz']) {
      const answer = await send('GET', path, { key: path.startsWith('/v1/admin') ? admin : portal, body: '{}' });
      expect(answer.status, path).toBe(413);
      expect(JSON.parse(answer.text), path).toMatchObject({
        code: 'payload_too_large',
        detail: `GET ${path} takes no request body; send the parameters in the URL`,
      });
    }
    expect((await send('GET', '/v1/dossiers', { body: '{}' })).status).toBe(413);

    const definition = JSON.stringify({ id: 'big', padding: 'x'.repeat(adminBodyLimitBytes) });
    const tooBig = await send('POST', '/v1/admin/connectors', { key: admin, body: definition });
    expect(tooBig.status).toBe(413);
    expect(JSON.parse(tooBig.text)).toMatchObject({ code: 'payload_too_large' });

    // A route that declares no limit of its own (here: a path nothing serves) has the server's.
    const stray = await send('POST', '/nowhere', {
      body: JSON.stringify({ padding: 'x'.repeat(defaultBodyLimitBytes) }),
    });
    expect(stray.status).toBe(413);
  });

  it('keep a portal key out of the admin API', async () => {
    const answer = await send('GET', '/v1/admin/connectors', { key: portal });
    expect(answer.status).toBe(403);
    expect(JSON.parse(answer.text)).toMatchObject({ code: 'forbidden' });
  });
});
