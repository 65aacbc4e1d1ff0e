import { createHash } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { verifyApiKey } from '../../../workers/control-plane/api-key-store.js';
import { runFleet, spawnFleet } from '../../support/fleet-process.js';
import { createTestEnvironment, type TestEnvironment } from '../../support/test-environment.js';

// `fleet apikey create` prints the key once, alone on the last line; Postgres holds only its SHA-256 hash;
// `list` never shows it; `revoke` makes it refused.

let env: TestEnvironment;
let cli: Record<string, string>;
let key: string;
let id: string;

const fleet = (...args: string[]) => runFleet(args, cli);

beforeAll(async () => {
  env = await createTestEnvironment();
  cli = { DATABASE_URL: env.config.DATABASE_URL, LOG_LEVEL: 'silent' };
});
afterAll(async () => env?.cleanup());

it('prints a new key alone on the last line of stdout, and stores only its hash', async () => {
  const run = spawnFleet(['apikey', 'create', '--name', 'Hà Nội IT team', '--scope', 'admin'], cli);
  let stdout = '';
  run.child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  expect(await run.exited).toBe(0);
  expect(stdout).toBe(run.output());
  const lines = stdout.trimEnd().split('\n');
  expect(lines).toHaveLength(2);
  expect(lines[0]).toMatch(/^created API key \d+ "Hà Nội IT team" with scope admin, national; it is shown this once/);
  key = lines.at(-1)!;
  expect(key).toMatch(/^dsk_[A-Za-z0-9_-]{43}$/);
  id = /API key (\d+)/.exec(lines[0]!)![1]!;

  const rows = await env.db.selectFrom('api_keys').selectAll().execute();
  expect(rows).toHaveLength(1);
  expect(rows[0]).toMatchObject({ id, name: 'Hà Nội IT team', scope: 'admin', revoked_at: null, last_used_at: null });
  expect(rows[0]!.key_hash.equals(createHash('sha256').update(key).digest())).toBe(true);
  // Nowhere in the row is the key itself.
  expect(JSON.stringify(rows)).not.toContain(key.slice(4));
  expect(await verifyApiKey(env.db, key)).toEqual({
    status: 'valid',
    id,
    name: 'Hà Nội IT team',
    scope: 'admin',
    provinces: null,
  });
});

it('lists keys with name, scope, created, last used and revoked, never the key; revoke makes it refused', async () => {
  const listed = await fleet('apikey', 'list');
  expect(listed.code).toBe(0);
  const [header, row] = listed.output.trimEnd().split('\n');
  expect(header!.split(/\s{2,}/)).toEqual(['ID', 'NAME', 'SCOPE', 'PROVINCES', 'CREATED', 'LAST USED', 'REVOKED']);
  // Verified once above: its last use is recorded.
  expect(row).toMatch(
    new RegExp(
      `^${id} +Hà Nội IT team +admin +national +\\d{4}-\\d{2}-\\d{2} \\d{2}:\\d{2}:\\d{2}Z +\\d{4}-\\d{2}-\\d{2} \\d{2}:\\d{2}:\\d{2}Z +-$`,
    ),
  );
  expect(listed.output).not.toContain(key.slice(4, 20));

  const revoked = await fleet('apikey', 'revoke', id);
  expect(revoked.code).toBe(0);
  expect(revoked.output).toMatch(new RegExp(`^revoked API key ${id} "Hà Nội IT team" \\(admin\\)`));
  expect(await verifyApiKey(env.db, key)).toEqual({ status: 'revoked' });
});

it('refuses a scope it does not know and an empty name with exit 2, and an unknown id with exit 3 (not found)', async () => {
  const [scope, name, unknown] = await Promise.all([
    fleet('apikey', 'create', '--name', 'x', '--scope', 'root'),
    fleet('apikey', 'create', '--name', ' ', '--scope', 'portal:read'),
    fleet('apikey', 'revoke', '999'),
  ]);
  expect(scope.code).toBe(2);
  expect(scope.output).toMatch(/argument 'root' is invalid\. Allowed choices are admin, portal:read/);
  expect(name.code).toBe(2);
  expect(name.output.trim()).toBe(
    'fleet apikey create: --name " ": expected 1 to 100 characters without control characters, naming who uses the key',
  );
  expect(unknown.code).toBe(3);
  expect(unknown.output.trim()).toBe(
    'fleet apikey revoke: there is no API key 999; expected an id fleet apikey list shows',
  );
  expect(await env.db.selectFrom('api_keys').select('id').execute()).toHaveLength(1);
});

it('binds a key to current provinces with --province, lists them, and refuses a former or unknown code with exit 2', async () => {
  const created = await fleet(
    'apikey',
    'create',
    '--name',
    'Bắc Ninh & Đà Nẵng',
    '--scope',
    'admin',
    '--province',
    '48,24',
  );
  expect(created.code).toBe(0);
  expect(created.output).toMatch(
    /^created API key \d+ "Bắc Ninh & Đà Nẵng" with scope admin, bound to provinces 24 \(Bắc Ninh\), 48 \(Đà Nẵng\);/,
  );
  const boundKey = created.output.trimEnd().split('\n').at(-1)!;
  const boundId = /API key (\d+)/.exec(created.output)![1]!;
  expect(await verifyApiKey(env.db, boundKey)).toMatchObject({ status: 'valid', id: boundId, provinces: ['24', '48'] });

  const listed = await fleet('apikey', 'list');
  expect(listed.output).toMatch(new RegExp(`^${boundId} +Bắc Ninh & Đà Nẵng +admin +24,48 +\\d{4}`, 'm'));
  const json = await fleet('apikey', 'list', '-o', 'json');
  expect(json.code).toBe(0);
  const keys = (JSON.parse(json.output) as { apiKeys: { id: string; provinces: string[] | null }[] }).apiKeys;
  expect(keys.map(({ id: keyId, provinces }) => ({ id: keyId, provinces }))).toEqual([
    { id, provinces: null },
    { id: boundId, provinces: ['24', '48'] },
  ]);

  const [former, unknown, empty] = await Promise.all([
    fleet('apikey', 'create', '--name', 'x', '--scope', 'admin', '--province', '24,27'),
    fleet('apikey', 'create', '--name', 'x', '--scope', 'portal:read', '--province', '99'),
    fleet('apikey', 'create', '--name', 'x', '--scope', 'portal:read', '--province', ''),
  ]);
  expect(former.code).toBe(2);
  expect(former.output.trim()).toBe(
    'fleet apikey create: --province 24,27: 27 is a former (2008) code, now part of 24 (Bắc Ninh); use 24; expected current (2025) codes, comma-separated, e.g. 24,48 (config/provinces.json lists them)',
  );
  expect(unknown.code).toBe(2);
  expect(unknown.output).toMatch(/--province 99: "99" is not a current \(2025\) province code;/);
  expect(empty.code).toBe(2);
  expect(await env.db.selectFrom('api_keys').select('id').execute()).toHaveLength(2);
});
