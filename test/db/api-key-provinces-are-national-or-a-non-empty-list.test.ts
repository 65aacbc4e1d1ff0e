import { createHash } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createApiKey, listApiKeys } from '../../workers/control-plane/api-key-store.js';
import { createTestEnvironment, type TestEnvironment } from '../support/test-environment.js';
import { cliActor } from '../../workers/control-plane/audit.js';

// api_keys.provinces (0010): NULL is a national key; a list is stored sorted and without repeats; an empty list,
// a key that would reach nothing, is refused by the table itself.

let env: TestEnvironment;

beforeAll(async () => {
  env = await createTestEnvironment();
});
afterAll(async () => env?.cleanup());

it('stores national keys as NULL and province keys sorted, once each; refuses an empty list', async () => {
  const national = await createApiKey(env.db, 'ops', 'admin', { actor: cliActor() });
  const bound = await createApiKey(env.db, 'team', 'portal:read', { actor: cliActor(), provinces: ['48', '24', '48'] });
  const listed = await listApiKeys(env.db);
  expect(listed.map(({ id, provinces }) => ({ id: String(id), provinces }))).toEqual([
    { id: national.id, provinces: null },
    { id: bound.id, provinces: ['24', '48'] },
  ]);
  const hash = createHash('sha256').update('x').digest();
  await expect(
    env.db
      .insertInto('api_keys')
      .values({ name: 'none', scope: 'admin', provinces: [], key_hash: hash, hash_prefix: 'ab' })
      .execute(),
  ).rejects.toThrow(/api_keys_provinces_check/);
});
