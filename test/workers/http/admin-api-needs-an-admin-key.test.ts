import { cliActor } from '../../../workers/control-plane/audit.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey, revokeApiKey } from '../../../workers/control-plane/api-key-store.js';
import { startFleet, type Fleet } from '../../../workers/fleet.js';
import { createLogger } from '../../../workers/logger.js';
import { createTestEnvironment, type TestEnvironment } from '../../support/test-environment.js';

// The admin API on the gateway: no key, an unknown or a revoked key → 401; a key without the admin scope → 403;
// an admin key → through. Every refusal is RFC 9457 problem details with a machine code.

let env: TestEnvironment;
let gateway: Fleet;
let admin: string;
let read: string;
let revoked: string;

const get = (path: string, headers: Record<string, string> = {}) => fetch(`${gateway.url}${path}`, { headers });
const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

async function expectProblem(response: Response, status: number, code: string, detail: RegExp) {
  expect(response.status).toBe(status);
  expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  const body = (await response.json()) as Record<string, unknown>;
  expect(body).toMatchObject({ type: `urn:dossier-sync:problem:${code}`, status, code });
  expect(body.title).toEqual(expect.any(String));
  expect(body.detail).toMatch(detail);
  return body;
}

beforeAll(async () => {
  env = await createTestEnvironment();
  gateway = await startFleet(env.config, ['gateway'], createLogger('silent'));
  ({ key: admin } = await createApiKey(env.db, 'ops', 'admin', { actor: cliActor() }));
  ({ key: read } = await createApiKey(env.db, 'portal', 'portal:read', { actor: cliActor() }));
  const old = await createApiKey(env.db, 'former ops', 'admin', { actor: cliActor() });
  revoked = old.key;
  await revokeApiKey(env.db, old.id, { actor: cliActor() });
});
afterAll(async () => {
  await gateway?.stop();
  await env?.cleanup();
});

describe('the admin API', () => {
  it('answers 401 unauthorized without a key, with a Bearer challenge', async () => {
    const response = await get('/v1/admin/connectors');
    expect(response.headers.get('www-authenticate')).toBe('Bearer realm="dossier-sync admin"');
    await expectProblem(
      response,
      401,
      'unauthorized',
      /needs an API key with scope admin: send the header "Authorization: Bearer <key>"/,
    );
  });

  it('answers 401 for a header that is not Bearer, an unknown key and a revoked key', async () => {
    await expectProblem(
      await get('/v1/admin/connectors', { authorization: `Basic ${Buffer.from('a:b').toString('base64')}` }),
      401,
      'unauthorized',
      /not "Bearer <key>"/,
    );
    const unknown = await get('/v1/admin/connectors', bearer(`dsk_${'A'.repeat(43)}`));
    expect(unknown.headers.get('www-authenticate')).toBe('Bearer realm="dossier-sync admin", error="invalid_token"');
    await expectProblem(unknown, 401, 'unauthorized', /the API key is not valid/);
    await expectProblem(
      await get('/v1/admin/connectors', bearer('not-even-a-key')),
      401,
      'unauthorized',
      /the API key is not valid/,
    );
    await expectProblem(await get('/v1/admin/connectors', bearer(revoked)), 401, 'unauthorized', /revoked/);
  });

  it('answers 403 forbidden for a key without the admin scope', async () => {
    await expectProblem(
      await get('/v1/admin/connectors', bearer(read)),
      403,
      'forbidden',
      /has scope portal:read; this API needs a key with scope admin/,
    );
  });

  it('lets an admin key through, and records when it was last used', async () => {
    const response = await get('/v1/admin/connectors', bearer(admin));
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ connectors: [] });
    const used = await env.db
      .selectFrom('api_keys')
      .select(['name', 'last_used_at'])
      .where('name', '=', 'ops')
      .executeTakeFirstOrThrow();
    expect(used.last_used_at).toBeInstanceOf(Date);
  });

  it('checks the key before anything else, even on a path it does not have', async () => {
    await expectProblem(await get('/v1/admin/nothing-here'), 401, 'unauthorized', /API key/);
    await expectProblem(
      await get('/v1/admin/nothing-here', bearer(admin)),
      404,
      'not_found',
      /there is no GET \/v1\/admin\/nothing-here/,
    );
  });

  it('leaves health and metrics open', async () => {
    expect((await get('/healthz')).status).toBe(200);
    expect((await get('/metrics')).status).toBe(200);
  });
});

it('is served by the gateway role only', async () => {
  const writer = await startFleet(env.config, ['writer'], createLogger('silent'));
  try {
    expect((await fetch(`${writer.url}/v1/admin/connectors`, { headers: bearer(admin) })).status).toBe(404);
    expect((await fetch(`${writer.url}/healthz`)).status).toBe(200);
  } finally {
    await writer.stop();
  }
});
