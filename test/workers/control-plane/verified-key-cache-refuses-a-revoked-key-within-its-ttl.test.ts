import { cliActor } from '../../../workers/control-plane/audit.js';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createApiKey, revokeApiKey } from '../../../workers/control-plane/api-key-store.js';
import { VerifiedKeyCache } from '../../../workers/control-plane/verified-key-cache.js';
import { createTestEnvironment, type TestEnvironment } from '../../support/test-environment.js';

let env: TestEnvironment;
beforeAll(async () => {
  env = await createTestEnvironment();
});
afterAll(async () => {
  await env?.cleanup();
});

it('trusts a valid key for its TTL, then asks again and refuses it once revoked', async () => {
  let now = 1_000_000;
  const cache = new VerifiedKeyCache(env.db, { ttlMs: 10_000, now: () => now });
  const { id, key } = await createApiKey(env.db, 'portal', 'portal:read', { actor: cliActor() });
  expect(await cache.verify(key)).toMatchObject({ status: 'valid', id, scope: 'portal:read' });

  await revokeApiKey(env.db, id, { actor: cliActor() });
  now += 9_999;
  expect((await cache.verify(key)).status).toBe('valid'); // within the TTL: not asked again
  now += 2;
  expect((await cache.verify(key)).status).toBe('revoked');
  now += 60_000;
  expect((await cache.verify(key)).status).toBe('revoked'); // a refusal is never remembered as valid
});

it('never remembers an unknown key, and keeps at most maxEntries', async () => {
  const cache = new VerifiedKeyCache(env.db, { maxEntries: 2 });
  expect((await cache.verify('dsk_not-a-key')).status).toBe('unknown');
  const keys = await Promise.all(
    ['a', 'b', 'c'].map((name) => createApiKey(env.db, name, 'admin', { actor: cliActor() })),
  );
  for (const { key } of keys) expect((await cache.verify(key)).status).toBe('valid');
  expect((cache as unknown as { entries: Map<string, unknown> }).entries.size).toBe(2);
});
