import { afterEach, expect, it } from 'vitest';
import {
  NationalRestConnector,
  nationalRestConfig,
} from '../../../connectors/national-rest/national-rest-connector.js';
import { defaultRetry, type BreakerSettings, type RetrySettings } from '../../../connectors/sdk/source-policy.js';
import { SourceError } from '../../../connectors/sdk/source-error.js';
import { SourceGuard, type BreakerState } from '../../../workers/poller/source-guard.js';
import { FlakyServer, type Answer } from './flaky-server.js';

let server: FlakyServer | null = null;
let guard: SourceGuard | null = null;
afterEach(async () => {
  guard?.shutdown();
  await server?.stop();
});

async function setUp(
  answer: (request: number) => Answer,
  breaker: Partial<BreakerSettings> = {},
  retry: Partial<RetrySettings> = {},
) {
  server = new FlakyServer(answer);
  const url = await server.start();
  const connector = new NationalRestConnector({
    id: 'flaky',
    sourceProvinceCode: '01',
    sourceCodeSet: '2025',
    config: nationalRestConfig.parse({ baseUrl: url, rateLimit: { requestsPerSecond: 1000 } }),
  });
  const states: BreakerState[] = [];
  guard = new SourceGuard(
    'flaky',
    { errorThresholdPercentage: 50, volumeThreshold: 3, resetTimeoutSeconds: 1, windowSeconds: 60, ...breaker },
    { ...defaultRetry, maxAttempts: 1, ...retry },
    (state) => states.push(state),
  );
  return { connector, states, read: () => guard!.read(connector, null) };
}

it('retries transient failures with backoff and then succeeds', async () => {
  const { read } = await setUp((n) => ({ status: n <= 2 ? 503 : 200 }), {}, { maxAttempts: 3 });
  await expect(read()).resolves.toMatchObject({ items: [] });
  expect(server!.starts).toHaveLength(3);
});

it('honours Retry-After on 429', async () => {
  const { read } = await setUp(
    (n) => (n === 1 ? { status: 429, headers: { 'retry-after': '1' } } : { status: 200 }),
    {},
    { maxAttempts: 2 },
  );
  await read();
  expect(server!.starts).toHaveLength(2);
  expect(server!.starts[1]! - server!.starts[0]!).toBeGreaterThanOrEqual(950);
});

it('does not retry a request the system refused as wrong (4xx)', async () => {
  const { read } = await setUp(() => ({ status: 401 }), {}, { maxAttempts: 5 });
  await expect(read()).rejects.toMatchObject({ status: 401, transient: false });
  expect(server!.starts).toHaveLength(1);
});

it('stops retrying when the connector has spent its retry budget', async () => {
  const { read } = await setUp(
    () => ({ status: 503 }),
    { volumeThreshold: 1000 },
    { maxAttempts: 5, budgetPerMinute: 2 },
  );
  await expect(read()).rejects.toBeInstanceOf(SourceError);
  await expect(read()).rejects.toBeInstanceOf(SourceError);
  // Five attempts were allowed per read, but only two retries in the minute: 1 + 2 + 1 requests.
  expect(server!.starts).toHaveLength(4);
});

it('opens the breaker after repeated failures, fails fast while open, and closes after a good trial', async () => {
  let healthy = false;
  const { read, states } = await setUp(() => ({ status: healthy ? 200 : 503 }));
  for (let i = 0; i < 3; i++) await expect(read()).rejects.toMatchObject({ status: 503 });
  expect(states).toEqual(['open']);
  const requests = server!.starts.length;
  await expect(read()).rejects.toThrow(/circuit breaker open after repeated failures of the province system/);
  expect(server!.starts).toHaveLength(requests);

  healthy = true;
  await new Promise((resolve) => setTimeout(resolve, 1100));
  await expect(read()).resolves.toMatchObject({ items: [] });
  expect(states).toEqual(['open', 'half_open', 'closed']);
});

it('is not opened by failures that are the caller\u2019s fault', async () => {
  const { read, states } = await setUp(() => ({ status: 403 }));
  for (let i = 0; i < 6; i++) await expect(read()).rejects.toMatchObject({ status: 403 });
  expect(states).toEqual([]);
  expect(guard!.state).toBe('closed');
});
