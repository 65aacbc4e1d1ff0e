import { cliActor } from '../../../workers/control-plane/audit.js';
import { sql } from 'kysely';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import type { Config } from '../../../config/env.js';
import { saveConnector } from '../../../db/queries/connectors.js';
import { countWebhookSecretsByKey } from '../../../db/queries/rekey-webhook-secrets.js';
import { rekeyWebhookSecrets } from '../../../workers/control-plane/secrets-rekey.js';
import { secretsRekey } from '../../../scripts/cli/commands/secrets.js';
import { generateWebhookSecret, SecretBox } from '../../../workers/webhooks/secret-box.js';
import { startedProcesses } from '../../support/process-group-registry.js';
import { createTestEnvironment, waitFor, type TestEnvironment } from '../../support/test-environment.js';
import { fleetEnvironment, runFleetApart } from '../../scripts/cli/run-fleet-apart.js';
import { checkoutFleetScript } from '../../support/fleet-executables.js';
import { testSecretsKey } from '../webhooks/webhook-client.js';

// `fleet secrets rekey` commits a batch per transaction and only ever looks for secrets not yet on the newest key:
// a run killed midway (SIGKILL: no chance to clean up) leaves each secret on A or on B, never half, and the next
// run finishes. A secret no configured key opens is left as it is and named by its key id in the summary.

const [keyA, keyB, keyC] = [testSecretsKey(), testSecretsKey(), testSecretsKey()];
const [idA, idB, idC] = [keyA, keyB, keyC].map((key) => new SecretBox(key).newestKeyId) as [string, string, string];
const onA = 1500;
/** The newest key of the second test, under which the later tests find the secrets. */
const keyD = testSecretsKey();
let env: TestEnvironment;
let cli: Record<string, string>;
const issued = new Map<string, string>();

/** Stores `count` secrets sealed with `key` for connector `id` (one current, the others in a grace period). */
async function store(id: string, key: string, count: number): Promise<void> {
  const box = new SecretBox(key);
  const rows = Array.from({ length: count }, (_, n) => {
    const secret = generateWebhookSecret();
    issued.set(`${id}:${n}`, secret);
    return {
      connector_id: id,
      sealed: box.seal(secret, id),
      expires_at: n === 0 ? null : new Date(Date.now() + 86_400_000),
    };
  });
  for (let start = 0; start < rows.length; start += 500)
    await env.db
      .insertInto('webhook_secrets')
      .values(rows.slice(start, start + 500))
      .execute();
}

async function register(id: string): Promise<void> {
  await saveConnector(env.db, {
    id,
    sourceProvinceCode: '48',
    sourceCodeSet: '2025',
    kind: 'national-rest',
    config: { baseUrl: 'http://127.0.0.1:9' },
    pollIntervalMs: 3_600_000,
  });
}

const countOn = async (keyId: string) =>
  (await countWebhookSecretsByKey(env.db)).find((row) => row.keyId === keyId)?.secrets ?? 0;

beforeAll(async () => {
  env = await createTestEnvironment({ SECRETS_KEY: keyA });
  cli = { DATABASE_URL: env.config.DATABASE_URL, LOG_LEVEL: 'silent', SECRETS_KEYS: `${keyB},${keyA}` };
  for (let n = 0; n < 10; n++) {
    await register(`rk-${n}`);
    await store(`rk-${n}`, keyA, onA / 10);
  }
  await register('rk-lost');
  await store('rk-lost', keyC, 1);
}, 120_000);
afterAll(async () => {
  await env?.cleanup();
});

it('is killed midway with SIGKILL, and a rerun re-seals the rest and names what no key opens', async () => {
  const child = startedProcesses.spawn(process.execPath, [checkoutFleetScript(), 'secrets', 'rekey', '--batch', '1'], {
    env: fleetEnvironment(cli),
    stdio: ['ignore', 'pipe', 'pipe'],
    label: 'fleet secrets rekey --batch 1',
  });
  const exited = new Promise<string | number | null>((resolve) =>
    child.on('close', (code, signal) => resolve(signal ?? code)),
  );
  await waitFor(async () => (await countOn(idB)) >= 20, 'the first run re-sealed some secrets', 60_000, 10);
  process.kill(-child.pid!, 'SIGKILL');
  expect(await exited).toBe('SIGKILL');

  // Each secret is on one key or the other: the kill cost no secret.
  const done = await countOn(idB);
  expect(done).toBeGreaterThanOrEqual(20);
  expect(done).toBeLessThan(onA);
  expect((await countOn(idA)) + done).toBe(onA);

  const rerun = await runFleetApart(['secrets', 'rekey', '--batch', '100'], cli);
  expect(rerun.code).toBe(1);
  const lines = rerun.stdout.trim().split('\n');
  expect(lines.at(-1)).toBe(
    `rekeyed ${onA - done} webhook secrets to key ${idB}, ${done} already on it, 1 unreadable with the configured keys`,
  );
  expect(lines[0]).toMatch(
    new RegExp(
      `^unreadable: secret \\d+ of connector rk-lost: .*sealed with the key ${idC}, which is not in SECRETS_KEYS`,
    ),
  );
  for (const hidden of [keyA, keyB, keyC, ...issued.values()])
    expect(rerun.stdout + rerun.stderr).not.toContain(hidden);

  // Every secret is the one issued, now under B alone.
  const boxB = new SecretBox(keyB);
  const rows = await sql<{ connector_id: string; sealed: Buffer }>`
    SELECT connector_id, sealed FROM webhook_secrets WHERE connector_id <> 'rk-lost' ORDER BY id`.execute(env.db);
  const opened = new Set(rows.rows.map((row) => boxB.open(row.sealed, row.connector_id)));
  expect(opened).toEqual(
    new Set([...issued].filter(([key]) => !key.startsWith('rk-lost')).map(([, secret]) => secret)),
  );

  const status = await runFleetApart(['secrets', 'status', '-o', 'json'], cli);
  expect(status.code).toBe(0);
  expect(JSON.parse(status.stdout)).toEqual({
    newestKeyId: idB,
    keys: [
      { keyId: idB, configured: true, newest: true, secrets: onA },
      { keyId: idC, configured: false, newest: false, secrets: 1 },
      { keyId: idA, configured: true, newest: false, secrets: 0 },
    ],
  });
  const text = await runFleetApart(['secrets', 'status'], cli);
  expect(text.stdout).toMatch(/1 webhook secrets are not on the newest key .*: run fleet secrets rekey/);
}, 180_000);

it('stops between batches when asked, and the next run goes on from there', async () => {
  const box = new SecretBox([keyD, keyB]);
  const stop = new AbortController();
  const first = await rekeyWebhookSecrets(env.db, box, {
    actor: cliActor(),
    batchSize: 100,
    signal: stop.signal,
    onBatch: ({ rekeyed }) => rekeyed >= 300 && stop.abort(),
  });
  expect(first).toMatchObject({ rekeyed: 300, stopped: true });
  expect(await countOn(box.newestKeyId)).toBe(300);
  const second = await rekeyWebhookSecrets(env.db, box, { actor: cliActor(), batchSize: 100 });
  expect(second).toMatchObject({ rekeyed: onA - 300, alreadyNewest: 300, stopped: false });
  expect(second.unreadable.map((row) => row.connectorId)).toEqual(['rk-lost']);
  expect(await countOn(box.newestKeyId)).toBe(onA);
});

it('draws its progress on a terminal, one line redrawn per batch, and prints the summary on stdout', async () => {
  const keyE = testSecretsKey();
  const writes: string[] = [];
  const printed: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((line: unknown) => void printed.push(String(line)));
  try {
    await secretsRekey(
      { ...env.config, SECRETS_KEY: undefined, SECRETS_KEYS: `${keyE},${testSecretsKey()}` } as Config,
      { batch: 500 },
      { isTTY: true, write: (text) => writes.push(text) },
    );
  } finally {
    log.mockRestore();
    process.exitCode = undefined;
  }
  const idE = new SecretBox(keyE).newestKeyId;
  // Nothing it holds opens the secrets (sealed with D by the test before): every batch counts them unreadable.
  expect(writes[0]).toBe(`\rrekeying to key ${idE}: 0/${onA + 1}, 500 unreadable\x1b[K`);
  expect(writes.at(-2)).toBe(`\rrekeying to key ${idE}: 0/${onA + 1}, ${onA + 1} unreadable\x1b[K`);
  expect(writes.at(-1)).toBe('\n');
  expect(printed.join('\n').trim().split('\n').at(-1)).toBe(
    `rekeyed 0 webhook secrets to key ${idE}, 0 already on it, ${onA + 1} unreadable with the configured keys`,
  );
});

it('skips a secret a rotation holds locked on its first pass and waits for it on the second', async () => {
  const box = new SecretBox([testSecretsKey(), keyD]);
  let locked!: () => void;
  const isLocked = new Promise<void>((resolve) => (locked = resolve));
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const holder = env.db.transaction().execute(async (trx) => {
    await sql`SELECT id FROM webhook_secrets WHERE connector_id = 'rk-0' ORDER BY id LIMIT 1 FOR UPDATE`.execute(trx);
    locked();
    await released;
  });
  await isLocked;
  const summary = await rekeyWebhookSecrets(env.db, box, {
    actor: cliActor(),
    batchSize: 200,
    onBatch: ({ rekeyed }) => rekeyed === onA - 1 && setTimeout(release, 300),
  });
  await holder;
  expect(summary).toMatchObject({ rekeyed: onA, alreadyNewest: 0, stopped: false });
  expect(await countOn(box.newestKeyId)).toBe(onA);
});
