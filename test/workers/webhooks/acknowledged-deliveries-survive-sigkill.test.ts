import { createServer } from 'node:net';
import { sql } from 'kysely';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { spawnFleet, type FleetProcess } from '../../support/fleet-process.js';
import { createTestEnvironment, waitFor, type TestEnvironment } from '../../support/test-environment.js';
import { deliver, nationalUpdate, registerWebhookConnector, signed, testSecretsKey } from './webhook-client.js';

// Guarantee 1 for pushes: a delivery that got a 202 is in Postgres, whatever process dies. The gateway and the
// writer run as real child processes; signed deliveries stream in concurrently; both are SIGKILLed while
// deliveries are in flight, then restarted — and every acknowledged update ends up in `dossiers`.

const secretsKey = testSecretsKey();
let env: TestEnvironment;
let secret: string;
let port: number;
let processes: FleetProcess[] = [];
const connector = 'kill-01';

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port: free } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return free;
}

function startProcesses(): FleetProcess[] {
  // A long batching window keeps many deliveries waiting for their batch at any moment: an acknowledgement given
  // before the batch is durable would lose a whole window of them to the kill.
  const config = {
    ...env.config,
    LOG_LEVEL: 'info',
    WEBHOOK_BATCH_WAIT_MS: '150',
    WEBHOOK_BATCH_MAX_RECORDS: '5000',
  } as unknown as Record<string, string>;
  processes = [
    spawnFleet(['start', '--role', 'gateway'], { ...config, HTTP_PORT: String(port) }),
    spawnFleet(['start', '--role', 'writer'], { ...config, HTTP_PORT: '0' }),
  ];
  return processes;
}

const gatewayUrl = () => `http://127.0.0.1:${port}`;
const ready = () =>
  waitFor(
    async () => {
      try {
        return (await fetch(`${gatewayUrl()}/readyz`)).ok;
      } catch {
        return false;
      }
    },
    'the gateway answers',
    30_000,
    100,
  );

beforeAll(async () => {
  env = await createTestEnvironment({ SECRETS_KEY: secretsKey });
  secret = await registerWebhookConnector(env.db, secretsKey, connector);
  port = await freePort();
});
afterAll(async () => {
  for (const child of processes) child.child.kill('SIGKILL');
  await env?.cleanup();
});

it('keeps every acknowledged delivery when the gateway and the writer are SIGKILLed mid-flight', async () => {
  let [gateway, writer] = startProcesses();
  await ready();

  const acknowledged = new Map<string, number>();
  let inFlight = 0;
  let sequence = 0;
  let killed = false;
  const sender = async () => {
    while (!killed) {
      const n = ++sequence;
      // Mostly single updates, sometimes a few at once; every update its own dossier, so each can be checked.
      const codes = Array.from({ length: n % 7 === 0 ? 3 : 1 }, (_, i) => `K${n}-${i}`);
      inFlight++;
      try {
        const answer = await deliver(
          gatewayUrl(),
          connector,
          signed(
            secret,
            codes.map((code) => nationalUpdate(code, { PhienBan: n })),
          ),
        );
        if (answer.status === 202) for (const code of codes) acknowledged.set(code, n);
      } catch {
        // The connection died with the process: not acknowledged, so the sender would retry it.
      } finally {
        inFlight--;
      }
    }
  };
  const senders = Array.from({ length: 24 }, () => sender());
  await waitFor(() => acknowledged.size >= 600, '600 acknowledged updates before the kill', 60_000, 5);
  // Killed with deliveries sent and not yet answered. Whether each of those then fails or was answered 202 just before
  // the process died is the machine's timing; either way an acknowledged one must be stored, which is what is checked.
  await waitFor(() => inFlight > 0, 'deliveries in flight', 10_000, 1);
  const inFlightAtKill = inFlight;
  gateway!.child.kill('SIGKILL');
  writer!.child.kill('SIGKILL');
  killed = true;
  expect(await gateway!.exited).toBe('SIGKILL');
  expect(await writer!.exited).toBe('SIGKILL');
  await Promise.all(senders);
  expect(inFlightAtKill).toBeGreaterThan(0);

  [gateway, writer] = startProcesses();
  await ready();
  const after = await deliver(
    gatewayUrl(),
    connector,
    signed(secret, nationalUpdate('K-after-restart', { PhienBan: 1 })),
  );
  expect(after.status).toBe(202);
  acknowledged.set('K-after-restart', 1);

  const stored = async () => {
    const rows = await env.db.selectFrom('dossiers').select(['dossier_code', 'source_version']).execute();
    return new Map(rows.map((row) => [row.dossier_code, Number(row.source_version)]));
  };
  await waitFor(
    async () => {
      const rows = await stored();
      return [...acknowledged.keys()].every((code) => rows.has(code));
    },
    'every acknowledged update stored after the restart',
    60_000,
  );
  const rows = await stored();
  const missing = [...acknowledged].filter(([code, version]) => rows.get(code) !== version);
  expect(missing).toEqual([]);
  const {
    rows: [duplicates],
  } = await sql<{ n: string }>`
    SELECT count(*) AS n FROM (SELECT 1 FROM dossier_events GROUP BY dossier_code, source_version HAVING count(*) > 1) d`.execute(
    env.db,
  );
  expect(Number(duplicates!.n)).toBe(0);

  for (const child of [gateway!, writer!]) child.child.kill('SIGTERM');
  expect(await gateway!.exited).toBe(0);
  expect(await writer!.exited).toBe(0);
  for (const child of [gateway!, writer!]) {
    expect(child.output()).not.toMatch(/unhandled|uncaught/i);
    // Neither the secret nor the applicant's personal data ever reaches a log.
    expect(child.output()).not.toContain(secret.slice(6));
    expect(child.output()).not.toMatch(/Nguyễn Văn An|001099012345/);
  }
});
