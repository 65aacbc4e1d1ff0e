import { afterAll, beforeAll, expect, it } from 'vitest';
import type { FleetProcess } from '../support/fleet-process.js';
import { parseMetrics, startFleetServing } from '../support/fleet-metrics.js';
import { createTestEnvironment, waitFor, type TestEnvironment } from '../support/test-environment.js';

// The fleet's metrics, as two real processes of one fleet serve them: every name, type and label set is the
// documented one (README "Metrics"), so a rename or a new label is a conscious act, made here and in the README too.
// And the queue gauges come from one process of the two, so a sum over the fleet counts each queue once.

/** Every dossier_sync metric: its type and its label names (a histogram's without `le`). */
const documented: Record<string, { type: string; labels: string[] }> = {
  dossier_sync_records_fetched_total: { type: 'counter', labels: ['province'] },
  dossier_sync_records_written_total: { type: 'counter', labels: ['province', 'outcome'] },
  dossier_sync_records_rejected_total: { type: 'counter', labels: ['province', 'reason'] },
  dossier_sync_anomalies_total: { type: 'counter', labels: ['connector', 'kind'] },
  dossier_sync_write_batch_duration_seconds: { type: 'histogram', labels: [] },
  dossier_sync_poll_runs_total: { type: 'counter', labels: ['province', 'connector', 'outcome'] },
  dossier_sync_write_failures_total: { type: 'counter', labels: ['province'] },
  dossier_sync_batches_failed_total: { type: 'counter', labels: ['province'] },
  dossier_sync_queue_depth: { type: 'gauge', labels: ['queue', 'state'] },
  dossier_sync_queue_oldest_waiting_age_seconds: { type: 'gauge', labels: ['queue'] },
  dossier_sync_queue_workers: { type: 'gauge', labels: ['queue'] },
  dossier_sync_queue_gauge_leader: { type: 'gauge', labels: [] },
  dossier_sync_breaker_state: { type: 'gauge', labels: ['province', 'connector'] },
  dossier_sync_dead_letters: { type: 'gauge', labels: ['province', 'reason'] },
  dossier_sync_failed_batches: { type: 'gauge', labels: ['province'] },
  dossier_sync_reconcile_runs: { type: 'gauge', labels: ['connector', 'outcome'] },
  dossier_sync_reconcile_mismatches: { type: 'gauge', labels: ['connector', 'kind'] },
  dossier_sync_reconcile_repaired: { type: 'gauge', labels: ['connector'] },
  dossier_sync_reconcile_last_match_timestamp_seconds: { type: 'gauge', labels: ['connector'] },
  dossier_sync_reconcile_last_run_dossiers_compared: { type: 'gauge', labels: ['province', 'connector'] },
  dossier_sync_reconcile_last_run_dossiers_in_sync: { type: 'gauge', labels: ['province', 'connector'] },
  dossier_sync_connector_last_sync_timestamp_seconds: { type: 'gauge', labels: ['province', 'connector'] },
  dossier_sync_commit_lag_seconds: { type: 'histogram', labels: ['province', 'origin'] },
  dossier_sync_operation_duration_seconds: { type: 'histogram', labels: ['stage', 'outcome'] },
  dossier_sync_webhook_deliveries_total: { type: 'counter', labels: ['connector', 'outcome'] },
  dossier_sync_webhook_records_total: { type: 'counter', labels: ['connector', 'outcome'] },
  dossier_sync_background_errors_total: { type: 'counter', labels: ['component', 'kind'] },
  dossier_sync_webhook_latency_seconds: { type: 'histogram', labels: ['province'] },
};

let env: TestEnvironment;
const fleets: FleetProcess[] = [];
let urls: string[] = [];

beforeAll(async () => {
  env = await createTestEnvironment();
  const started = await Promise.all([
    startFleetServing('all', env.config as unknown as Record<string, unknown>),
    startFleetServing('gateway,writer', env.config as unknown as Record<string, unknown>),
  ]);
  fleets.push(...started.map((one) => one.process));
  urls = started.map((one) => one.url);
  // A request to the read API, so the read_api stage has a sample to show its labels.
  await fetch(`${urls[0]}/v1/dossiers/none`).catch(() => null);
}, 120_000);
afterAll(async () => {
  for (const fleet of fleets) fleet.killGroup('SIGTERM');
  await Promise.all(fleets.map((fleet) => fleet.exited));
  await env?.cleanup();
}, 60_000);

const scrape = async (url: string) => parseMetrics(await (await fetch(`${url}/metrics`)).text());

it('exports exactly the documented dossier_sync metrics, with their types and label names', async () => {
  const families = await scrape(urls[0]!);
  const ours = [...families.keys()].filter((name) => name.startsWith('dossier_sync_')).sort();
  expect(ours).toEqual(Object.keys(documented).sort());
  for (const [name, { type, labels }] of Object.entries(documented)) {
    const family = families.get(name)!;
    expect(family.type, `${name}'s type`).toBe(type);
    for (const sample of family.samples) {
      const names = Object.keys(sample.labels).filter((label) => label !== 'le');
      expect(names.sort(), `${sample.name}'s labels`).toEqual([...labels].sort());
    }
  }
  // prom-client's process metrics, in base units.
  expect(families.get('process_resident_memory_bytes')?.type).toBe('gauge');
  expect(families.get('process_cpu_seconds_total')?.type).toBe('counter');
});

it('exports each queue gauge from one process of the fleet, so a sum over processes counts each queue once', async () => {
  const depthOf = (families: Map<string, { samples: { labels: Record<string, string> }[] }>) =>
    families
      .get('dossier_sync_queue_depth')!
      .samples.filter((sample) => sample.labels.queue === 'ingest-01' && sample.labels.state === 'waiting').length;
  // The lease is taken at a scrape: after one round both processes know who holds it.
  await waitFor(async () => {
    const both = await Promise.all(urls.map(scrape));
    return both.map(depthOf).reduce((a, b) => a + b, 0) === 1;
  }, 'the ingest-01 waiting depth exported by exactly one of the two processes');
  const both = await Promise.all(urls.map(scrape));
  const leaders = both.map((families) => families.get('dossier_sync_queue_gauge_leader')!.samples[0]!.value);
  expect([...leaders].sort()).toEqual([0, 1]);
  for (const name of ['dossier_sync_queue_oldest_waiting_age_seconds', 'dossier_sync_queue_workers']) {
    const series = both.flatMap((families) =>
      families.get(name)!.samples.filter((sample) => sample.labels.queue === 'ingest-01'),
    );
    expect(series, name).toHaveLength(1);
  }
  // Both processes run writers: the leader counts the fleet's workers on a queue, not its own.
  const leader = both[leaders.indexOf(1)]!;
  const workers = leader.get('dossier_sync_queue_workers')!.samples.find((s) => s.labels.queue === 'ingest-01')!;
  expect(workers.value).toBeGreaterThanOrEqual(2);
});
