import { spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ProvinceSimulator } from '../../scripts/tools/simulator/province-simulator.js';
import { registerSimulatorConnector } from '../support/connectors.js';
import { spawnFleet, type FleetProcess } from '../support/fleet-process.js';
import { sparePort } from '../support/own-services.js';
import { startedProcesses } from '../support/process-group-registry.js';
import { createTestEnvironment, waitFor, type TestEnvironment } from '../support/test-environment.js';

// A real Prometheus (Debian's package, as .ci/run installs it) scrapes a real fleet process on loopback that syncs
// a simulated province, loads config/prometheus's rule files as they are, and answers through its HTTP API: the
// target is up, a fleet metric has a sample, a recording rule has a result, and every rule group evaluates with
// health ok. Without the prometheus binary the test fails in CI (CI set) and is skipped elsewhere.

const rulesDir = fileURLToPath(new URL('../../config/prometheus/', import.meta.url));
const prometheusBinary = process.env.PROMETHEUS_BINARY ?? 'prometheus';
const installed = spawnSync(prometheusBinary, ['--version']).status === 0;
const inCi = process.env.CI !== undefined && process.env.CI !== '' && process.env.CI !== 'false';
const province = '01';

let env: TestEnvironment;
let simulator: ProvinceSimulator;
let fleet: FleetProcess | null = null;
let prometheus: ChildProcess | null = null;
let prometheusLog = '';
let workdir = '';
let api = '';

interface ApiAnswer<T> {
  status: string;
  data: T;
  error?: string;
}

async function query<T>(path: string): Promise<ApiAnswer<T>> {
  const response = await fetch(`${api}${path}`);
  return (await response.json()) as ApiAnswer<T>;
}

type Vector = { resultType: string; result: { metric: Record<string, string>; value: [number, string] }[] };
const instant = (expr: string) => query<Vector>(`/api/v1/query?query=${encodeURIComponent(expr)}`);

beforeAll(async () => {
  if (!installed) return;
  env = await createTestEnvironment();
  simulator = new ProvinceSimulator({
    provinces: [province],
    dossiersPerProvince: 300,
    seed: 5,
    tickMs: 200,
    changesPerTick: 3,
  });
  const simulatorUrl = await simulator.start();
  await registerSimulatorConnector(env.db, simulatorUrl, province, { pollIntervalMs: 1000 });

  const fleetPort = await sparePort();
  fleet = spawnFleet(['start', '--role', 'gateway,poller,writer,scheduler'], {
    DATABASE_URL: env.config.DATABASE_URL,
    REDIS_URL: env.config.REDIS_URL,
    QUEUE_PREFIX: env.config.QUEUE_PREFIX,
    HTTP_PORT: String(fleetPort),
    LOG_LEVEL: 'warn',
    SHUTDOWN_TIMEOUT_MS: '20000',
  });
  await waitFor(
    async () => (await fetch(`http://127.0.0.1:${fleetPort}/health/live`).catch(() => null))?.ok === true,
    'the fleet process serves HTTP',
  );

  workdir = mkdtempSync(join(tmpdir(), 'dossier-sync-prometheus-'));
  startedProcesses.trackDirectory(workdir);
  const config = join(workdir, 'prometheus.yml');
  writeFileSync(
    config,
    [
      'global:',
      '  scrape_interval: 1s',
      '  evaluation_interval: 1s',
      'rule_files:',
      `  - ${JSON.stringify(join(rulesDir, 'recording-rules.yml'))}`,
      `  - ${JSON.stringify(join(rulesDir, 'alert-rules.yml'))}`,
      'scrape_configs:',
      '  - job_name: dossier-sync',
      '    metrics_path: /metrics',
      '    static_configs:',
      `      - targets: ['127.0.0.1:${fleetPort}']`,
      '',
    ].join('\n'),
  );
  // A spare port may be taken between choosing and binding it: try another then.
  for (let attempt = 1; ; attempt++) {
    const port = await sparePort();
    api = `http://127.0.0.1:${port}`;
    prometheusLog = '';
    const started = startedProcesses.spawn(
      prometheusBinary,
      [
        `--config.file=${config}`,
        `--storage.tsdb.path=${join(workdir, `data-${attempt}`)}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--log.level=warn',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'], label: `prometheus :${port}` },
    );
    prometheus = started;
    started.stdout!.on('data', (chunk: Buffer) => (prometheusLog += chunk.toString()));
    started.stderr!.on('data', (chunk: Buffer) => (prometheusLog += chunk.toString()));
    try {
      await waitFor(
        async () => {
          if (started.exitCode !== null) throw new Error(`prometheus exited ${started.exitCode}:\n${prometheusLog}`);
          return (await fetch(`${api}/-/ready`).catch(() => null))?.ok === true;
        },
        'prometheus ready',
        90_000,
      );
      break;
    } catch (error) {
      started.kill('SIGKILL');
      if (attempt >= 3 || !/address already in use/.test(prometheusLog)) throw error;
    }
  }
}, 240_000);

afterAll(async () => {
  const stopping: Promise<unknown>[] = [];
  if (prometheus && prometheus.exitCode === null && prometheus.signalCode === null) {
    const running = prometheus;
    stopping.push(new Promise((resolve) => running.once('exit', resolve)));
    running.kill('SIGTERM');
  }
  if (fleet && fleet.child.exitCode === null) {
    fleet.child.kill('SIGTERM');
    stopping.push(fleet.exited);
  }
  await Promise.all(stopping);
  if (workdir) startedProcesses.removeDirectory(workdir);
  await simulator?.stop();
  await env?.cleanup();
});

it.skipIf(!installed && !inCi)(
  'scrapes the fleet, answers a metric and a recording rule, and evaluates every rule group with health ok',
  async () => {
    expect(
      installed,
      `the prometheus binary (${prometheusBinary}) is not installed: install Debian's prometheus package ` +
        '(.ci/run does, through scripts/check-prometheus-rules.sh) or set PROMETHEUS_BINARY',
    ).toBe(true);

    type Targets = { activeTargets: { health: string; lastError: string; scrapeUrl: string }[] };
    let targets: Targets['activeTargets'] = [];
    await waitFor(
      async () => {
        targets = (await query<Targets>('/api/v1/targets')).data.activeTargets;
        return targets.length === 1 && targets[0]!.health === 'up';
      },
      'the fleet target up in /api/v1/targets',
      120_000,
      1000,
    ).catch((error: Error) => {
      throw new Error(`${error.message}: ${JSON.stringify(targets)}\n${prometheusLog}`);
    });

    // A fleet metric, with the province it synced: the poller committed at least one run.
    let fetched: Vector['result'] = [];
    await waitFor(
      async () => {
        fetched = (await instant('dossier_sync_records_fetched_total')).data.result;
        return fetched.some((sample) => sample.metric.province === province && Number(sample.value[1]) > 0);
      },
      'a sample of dossier_sync_records_fetched_total for the province',
      180_000,
      1000,
    );
    expect(fetched[0]!.metric).toMatchObject({ job: 'dossier-sync', province });

    // A recording rule of recording-rules.yml (its group evaluates every 30 s, whatever evaluation_interval says).
    const recorded = 'province_connector:dossier_sync_connector_freshness_seconds';
    let freshness: Vector['result'] = [];
    await waitFor(
      async () => {
        freshness = (await instant(recorded)).data.result;
        return freshness.length > 0;
      },
      `a result of the recording rule ${recorded}`,
      180_000,
      1000,
    );
    expect(freshness[0]!.metric).toMatchObject({ province, connector: `sim-${province}` });
    expect(Number(freshness[0]!.value[1])).toBeGreaterThanOrEqual(0);

    // The poll service level's error ratio, from the commit-lag histogram: the simulator's changes are live ones.
    const slo = 'province:dossier_sync_poll_commit_slow:ratio_rate5m';
    let ratio: Vector['result'] = [];
    await waitFor(
      async () => {
        ratio = (await instant(slo)).data.result;
        return ratio.some((sample) => sample.metric.province === province);
      },
      `a result of the recording rule ${slo}`,
      180_000,
      1000,
    );
    const share = Number(ratio.find((sample) => sample.metric.province === province)!.value[1]);
    expect(share).toBeGreaterThanOrEqual(0);
    expect(share).toBeLessThanOrEqual(1);
    // What Prometheus answered, for whoever reads the run's output (a closing note quotes it).
    console.info(
      [fetched[0]!, freshness[0]!, ratio.find((sample) => sample.metric.province === province)!]
        .map((sample) => `${JSON.stringify(sample.metric)} = ${sample.value[1]}`)
        .join('\n'),
    );

    // Every group of both files listed, each rule evaluated at least once and healthy.
    type Rules = {
      groups: {
        name: string;
        file: string;
        rules: { name: string; type: string; health: string; lastError?: string; lastEvaluation: string }[];
      }[];
    };
    // The groups the two files define, however many they become.
    const expectedGroups = ['recording-rules.yml', 'alert-rules.yml'].flatMap((file) =>
      [...readFileSync(join(rulesDir, file), 'utf8').matchAll(/^ {2}- name: (\S+)$/gm)].map((match) => match[1]!),
    );
    expect(expectedGroups).toEqual(expect.arrayContaining(['dossier-sync-slo', 'dossier-sync-symptoms']));
    let groups: Rules['groups'] = [];
    await waitFor(
      async () => {
        groups = (await query<Rules>('/api/v1/rules')).data.groups;
        return (
          expectedGroups.every((name) => groups.some((group) => group.name === name)) &&
          groups.every((group) => group.rules.every((rule) => rule.health !== 'unknown'))
        );
      },
      'every rule group listed in /api/v1/rules and evaluated',
      180_000,
      1000,
    );
    const unhealthy = groups.flatMap((group) =>
      group.rules
        .filter((rule) => rule.health !== 'ok')
        .map((rule) => `${group.name}/${rule.name}: ${rule.health} ${rule.lastError ?? ''}`),
    );
    expect(unhealthy).toEqual([]);
    expect(groups.map((group) => group.name).sort()).toEqual([...expectedGroups].sort());
    expect(groups.flatMap((group) => group.rules.map((rule) => rule.type))).toContain('alerting');
    expect(groups.flatMap((group) => group.rules.map((rule) => rule.type))).toContain('recording');
  },
  600_000,
);
