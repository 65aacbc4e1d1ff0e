import { afterAll, beforeAll, expect, it } from 'vitest';
import { saveConnector, setConnectorState } from '../../../db/queries/connectors.js';
import { startFleet } from '../../../workers/fleet.js';
import { createLogger } from '../../../workers/logger.js';
import { runFleet, spawnFleet } from '../../support/fleet-process.js';
import { createTestEnvironment, waitFor, type TestEnvironment } from '../../support/test-environment.js';
import { deliver, nationalUpdate, signed, testSecretsKey } from './webhook-client.js';

// `fleet connector rotate-secret ID [--grace 24h]` issues a whsec_ secret, prints it once (alone on the last
// line), stores it only encrypted under SECRETS_KEY, and keeps the previous one valid for the grace period.
// Without SECRETS_KEY the command and the webhook route say so; the rest of the fleet runs.

const secretsKey = testSecretsKey();
let env: TestEnvironment;
let cli: Record<string, string>;

const rotate = async (...args: string[]) => {
  const run = spawnFleet(['connector', 'rotate-secret', ...args], cli);
  let stdout = '';
  run.child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  const code = await run.exited;
  return { code, stdout, output: run.output() };
};
const secretOf = (stdout: string) => stdout.trimEnd().split('\n').at(-1)!;

beforeAll(async () => {
  env = await createTestEnvironment({ SECRETS_KEY: secretsKey });
  cli = { DATABASE_URL: env.config.DATABASE_URL, LOG_LEVEL: 'silent', SECRETS_KEY: secretsKey };
  for (const id of ['cli-01', 'cli-paused', 'cli-removed']) {
    await saveConnector(env.db, {
      id,
      sourceProvinceCode: '01',
      sourceCodeSet: '2025',
      kind: 'national-rest',
      config: { baseUrl: 'http://127.0.0.1:9' },
      pollIntervalMs: 3_600_000,
    });
  }
  await setConnectorState(env.db, 'cli-paused', 'paused', ['active']);
  await setConnectorState(env.db, 'cli-removed', 'removed', ['active']);
});
afterAll(async () => env?.cleanup());

it('prints a new whsec_ secret alone on the last line, stores it only encrypted, and a gateway accepts it', async () => {
  const first = await rotate('cli-01');
  expect(first.code).toBe(0);
  const lines = first.stdout.trimEnd().split('\n');
  expect(lines).toHaveLength(3);
  expect(lines[0]).toBe('issued the first webhook secret of connector cli-01.');
  const secret = secretOf(first.stdout);
  expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);

  const rows = await env.db.selectFrom('webhook_secrets').selectAll().where('connector_id', '=', 'cli-01').execute();
  expect(rows).toHaveLength(1);
  expect(rows[0]!.expires_at).toBeNull();
  const stored = JSON.stringify(rows) + rows[0]!.sealed.toString('latin1');
  expect(stored).not.toContain(secret.slice(6, 30));
  expect(stored).not.toContain(Buffer.from(secret.slice(6), 'base64').toString('latin1').slice(0, 16));

  const gateway = await startFleet(env.config, ['gateway'], createLogger('silent'));
  try {
    expect((await deliver(gateway.url, 'cli-01', signed(secret, nationalUpdate('S1')))).status).toBe(202);
  } finally {
    await gateway.stop();
  }
});

it('keeps the previous secret valid for --grace, and --grace 0 refuses every previous one at once', async () => {
  const old = secretOf((await rotate('cli-01')).stdout);
  const graced = await rotate('cli-01', '--grace', '7d');
  expect(graced.code).toBe(0);
  const until = /stays valid until (\S+ \S+Z) \(--grace 7d\)/.exec(graced.stdout)?.[1];
  expect(until).toBeDefined();
  const days = (Date.parse(until!.replace(' ', 'T')) - Date.now()) / 86_400_000;
  expect(days).toBeGreaterThan(6.9);
  expect(days).toBeLessThanOrEqual(7);
  const current = secretOf(graced.stdout);
  expect(current).not.toBe(old);

  const gateway = await startFleet(env.config, ['gateway'], createLogger('silent'));
  try {
    expect((await deliver(gateway.url, 'cli-01', signed(old, nationalUpdate('S2')))).status).toBe(202);
    expect((await deliver(gateway.url, 'cli-01', signed(current, nationalUpdate('S3')))).status).toBe(202);
  } finally {
    await gateway.stop();
  }

  const revoked = await rotate('cli-01', '--grace', '0');
  expect(revoked.code).toBe(0);
  expect(revoked.stdout).toMatch(/the previous one is refused from now on/);
  const newest = secretOf(revoked.stdout);
  const fresh = await startFleet(env.config, ['gateway'], createLogger('silent'));
  try {
    for (const refused of [old, current]) {
      const answer = await deliver(fresh.url, 'cli-01', signed(refused, nationalUpdate('S4')));
      expect({ status: answer.status, code: answer.body.code }).toEqual({ status: 401, code: 'signature_invalid' });
    }
    expect((await deliver(fresh.url, 'cli-01', signed(newest, nationalUpdate('S5')))).status).toBe(202);
  } finally {
    await fresh.stop();
  }
  expect(
    await env.db.selectFrom('webhook_secrets').select('id').where('connector_id', '=', 'cli-01').execute(),
  ).toHaveLength(1);
});

it('notes a paused connector, and refuses bad input with exit 2 and an unknown connector with exit 3, in one line', async () => {
  const paused = await rotate('cli-paused', '--grace', '30m');
  expect(paused.code).toBe(0);
  expect(paused.stdout).toMatch(/\(the connector is paused: its deliveries are refused until it is resumed\)/);

  const cases = await Promise.all([
    rotate('cli-01', '--grace', '5x'),
    rotate('cli-01', '--grace', '100d'),
    rotate('no-such'),
    rotate('cli-removed'),
  ]);
  expect(cases.map((run) => run.code)).toEqual([2, 2, 3, 2]);
  expect(cases.map((run) => run.output.trim())).toEqual([
    'fleet connector rotate-secret: --grace "5x": expected a duration such as 30m, 24h or 7d (at most 90d), or 0 to refuse the old secret at once',
    'fleet connector rotate-secret: --grace "100d": expected a duration such as 30m, 24h or 7d (at most 90d), or 0 to refuse the old secret at once',
    'fleet connector rotate-secret: there is no connector no-such; expected an id fleet connector list shows',
    'fleet connector rotate-secret: connector cli-removed is removed; register it again with fleet connector add first',
  ]);
  for (const run of cases) expect(run.output).not.toMatch(/whsec_/);
});

it('says SECRETS_KEY is missing or malformed without echoing it, and the fleet without it still runs but refuses webhooks', async () => {
  const unset = await runFleet(['connector', 'rotate-secret', 'cli-01'], { ...cli, SECRETS_KEY: '' });
  expect(unset.code).toBe(2);
  expect(unset.output.trim()).toMatch(
    /^fleet connector rotate-secret: cannot encrypt the new webhook secret: SECRETS_KEY is not set \(nor SECRETS_KEYS, the list used during a key rotation\); expected 32 random bytes in base64/,
  );

  const malformed = 'c2hvcnQta2V5LW5vdC0zMi1ieXRlcw==';
  const bad = await runFleet(['connector', 'rotate-secret', 'cli-01'], { ...cli, SECRETS_KEY: malformed });
  expect(bad.code).toBe(2);
  expect(bad.output.trim()).toBe(
    'config: SECRETS_KEY=(hidden, 32 characters) is invalid: expected 32 random bytes in base64 (44 characters, e.g. from: openssl rand -base64 32)',
  );

  const { SECRETS_KEY: _unused, ...withoutKey } = env.config;
  const gateway = await startFleet(withoutKey as typeof env.config, ['gateway'], createLogger('silent'));
  try {
    expect((await fetch(`${gateway.url}/healthz`)).status).toBe(200);
    const answer = await deliver(
      gateway.url,
      'cli-01',
      signed(`whsec_${Buffer.alloc(32, 1).toString('base64')}`, nationalUpdate('S6')),
    );
    expect({ status: answer.status, code: answer.body.code }).toEqual({ status: 503, code: 'webhooks_not_configured' });
    expect(answer.body.detail).toMatch(/SECRETS_KEY is not set/);
  } finally {
    await gateway.stop();
  }
});

it('takes a rotation on a running gateway within seconds: the new secret soon, the revoked one refused soon after', async () => {
  const before = secretOf((await rotate('cli-01', '--grace', '0')).stdout);
  const gateway = await startFleet(env.config, ['gateway'], createLogger('silent'));
  try {
    expect((await deliver(gateway.url, 'cli-01', signed(before, nationalUpdate('S7')))).status).toBe(202);
    const after = secretOf((await rotate('cli-01', '--grace', '0')).stdout);
    await waitFor(
      async () => (await deliver(gateway.url, 'cli-01', signed(after, nationalUpdate('S8')))).status === 202,
      'the new secret accepted',
      15_000,
      200,
    );
    await waitFor(
      async () => (await deliver(gateway.url, 'cli-01', signed(before, nationalUpdate('S9')))).status === 401,
      'the revoked secret refused',
      15_000,
      200,
    );
  } finally {
    await gateway.stop();
  }
});
