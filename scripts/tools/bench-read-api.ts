// The read API benchmark (`npm run bench:read`): a fresh database seeded by Postgres itself with --dossiers synthetic
// dossiers across the 34 provinces, --gateways gateway processes (default 1) on free ports with the load spread over
// them, a portal:read key, then:
//   1. lookups at saturation: autocannon, --connections, random existing dossiers, --seconds;
//   2. lookups at a fixed --rate: autocannon's overallRate, and a steady open loop (no coordinated omission);
//   3. the change feed: --pages pages of 1,000 from the start, national and one province;
//   4. statistics: topped up to --stats-dossiers, `fleet stats refresh` timed, then one province's and the national
//      figures: --stats-requests sequential requests, and autocannon for --seconds each;
// with the largest gateway peak RSS and the database's size. Progress goes to stderr, a markdown table of the figures
// to stdout; the database is dropped at the end unless --keep. Answers that are not 2xx are counted, not fatal, so a
// route that is missing or named otherwise shows at once as non-2xx.
// Usage: npm run bench:read -- [--dossiers 1000000] [--stats-dossiers 5000000] [--seconds 20] [--rate 2000]

import { cpus, totalmem } from 'node:os';
import { parseArgs } from 'node:util';
import { sql, type Kysely } from 'kysely';
import { loadConfig, type Config } from '../../config/env.js';
import { currentProvinces } from '../../config/provinces.js';
import { createDatabase } from '../../db/database.js';
import type { Database } from '../../db/schema.js';
import {
  autocannonLoad,
  deleteRedisKeys,
  dropDatabase,
  FleetProcess,
  freePort,
  freshDatabase,
  killChildren,
  quantile,
  runFleet,
  steadyLoad,
  type FleetRun,
  type LoadFigures,
} from './bench-support.js';
import { dossierCode, dossiersPerProvince, seedDossiers, type SeedOutcome } from './seed-dossiers.js';

const usage =
  'usage: npm run bench:read -- [--dossiers 1000000] [--stats-dossiers 5000000] [--seconds 20] [--rate 2000] ' +
  '[--connections 64] [--gateways 1] [--pages 50] [--stats-requests 200] [--feed-province 79] [--seed-connections N] ' +
  '[--stats-query QUERY] [--gateway-env NAME=VALUE]... [--keep]';

const { values: args } = parseArgs({
  options: {
    /** Dossiers seeded for the lookups and the change feed. Default 1,000,000. */
    dossiers: { type: 'string', default: '1000000' },
    /** Dossiers of the statistics (a top-up of the first seeding); 0 skips the statistics. Default 5,000,000. */
    'stats-dossiers': { type: 'string', default: '5000000' },
    /** Length of each load run, in seconds. Default 20. */
    seconds: { type: 'string', default: '20' },
    /** Lookups per second of the fixed-rate runs. Default 2,000 (the issue's target rate). */
    rate: { type: 'string', default: '2000' },
    /** Connections of the autocannon runs. Default 64. */
    connections: { type: 'string', default: '64' },
    /** Pages of 1,000 walked in the change feed, national and one province. Default 50. */
    pages: { type: 'string', default: '50' },
    /** Sequential requests for each statistics route. Default 200. */
    'stats-requests': { type: 'string', default: '200' },
    /** The province whose change feed is walked. Default 79. */
    'feed-province': { type: 'string', default: '79' },
    /** Connections seeding at once. Default: the machine's cores. */
    'seed-connections': { type: 'string', default: String(cpus().length) },
    /** Query of the statistics requests. Default: from a year ago to today, as Vietnam calendar dates. */
    'stats-query': { type: 'string' },
    /** Gateway processes, each on its own port, the load spread over them as a round-robin balancer. Default 1. */
    gateways: { type: 'string', default: '1' },
    /** More environment of the gateway, NAME=VALUE, repeatable (API_RATE_LIMIT_PER_SECOND is 1000000 already). */
    'gateway-env': { type: 'string', multiple: true, default: [] },
    /** Keep the database at the end (its name is printed). Default: dropped. */
    keep: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});
if (args.help) {
  console.error(usage);
  process.exit(0);
}

function count(name: keyof typeof args, min: number): number {
  const value = Number(args[name]);
  if (!Number.isInteger(value) || value < min) {
    console.error(`bench:read: --${name} ${JSON.stringify(args[name])}: expected a whole number ≥ ${min}\n${usage}`);
    process.exit(2);
  }
  return value;
}
const dossiers = count('dossiers', 34);
const statsDossiers = count('stats-dossiers', 0);
const seconds = count('seconds', 1);
const rate = count('rate', 1);
const connections = count('connections', 1);
const pages = count('pages', 1);
const statsRequests = count('stats-requests', 1);
const seedConnections = count('seed-connections', 1);
const gatewayCount = count('gateways', 1);
const feedProvince = args['feed-province'];
if (!currentProvinces.some(({ code }) => code === feedProvince)) {
  console.error(`bench:read: --feed-province ${JSON.stringify(feedProvince)}: expected a current province code`);
  process.exit(2);
}
const gatewayEnv: Record<string, string> = { API_RATE_LIMIT_PER_SECOND: '1000000' };
for (const entry of args['gateway-env']) {
  const match = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(entry);
  if (!match) {
    console.error(`bench:read: --gateway-env ${JSON.stringify(entry)}: expected NAME=VALUE`);
    process.exit(2);
  }
  gatewayEnv[match[1]!] = match[2]!;
}

const started = performance.now();
/** Set by SIGINT/SIGTERM: the handler cleans up and exits; the main flow's failures that follow are its doing. */
let interrupted = false;
/** A progress line on stderr, with the time since the start. */
const progress = (line: string) =>
  console.error(`[bench:read ${((performance.now() - started) / 1000).toFixed(0)} s] ${line}`);

const number = (value: number, digits = 0) =>
  Number.isFinite(value) ? value.toLocaleString('en-US', { maximumFractionDigits: digits }) : 'n/a';
const ms = (value: number) =>
  Number.isFinite(value) ? `${value < 10 ? value.toFixed(2) : value.toFixed(1)} ms` : 'n/a';
const megabytes = (bytes: number) => (Number.isFinite(bytes) ? `${number(bytes / 1024 ** 2)} MiB` : 'n/a');

/** The figures as they come: one row of the final table each. */
const rows: [string, string][] = [];
const record = (figure: string, value: string) => {
  rows.push([figure, value]);
  progress(`${figure}: ${value}`);
};

/** The Vietnam calendar date `daysAgo` days before today, yyyy-MM-dd. */
function vietnamDate(daysAgo: number): string {
  return new Date(Date.now() + 7 * 3_600_000 - daysAgo * 86_400_000).toISOString().slice(0, 10);
}
const statsQuery = args['stats-query'] ?? `from=${vietnamDate(365)}&to=${vietnamDate(0)}`;

/** Picks a random existing dossier among `total` seeded: its lookup path. */
function lookupPaths(total: number): () => string {
  const perProvince = [...dossiersPerProvince(total)];
  return () => {
    const [code, n] = perProvince[Math.floor(Math.random() * perProvince.length)]!;
    return `/v1/dossiers/${code}/${encodeURIComponent(dossierCode(code, 1 + Math.floor(Math.random() * n)))}`;
  };
}

const randomProvince = () => currentProvinces[Math.floor(Math.random() * currentProvinces.length)]!.code;

/** Statuses with their counts, e.g. `200×39,990, 404×10`. */
const statusList = (statuses: Record<string, number>) =>
  Object.entries(statuses)
    .map(([status, n]) => `${status}×${number(n)}`)
    .join(', ') || 'none';

/** One load run as a table value. */
function loadValue(figures: LoadFigures, withP90 = false): string {
  const errors = figures.errors > 0 ? `, ${number(figures.errors)} without an answer` : '';
  return (
    `${number(figures.perSecond)} req/s; p50 ${ms(figures.p50)}${withP90 ? `, p90 ${ms(figures.p90)}` : ''}, ` +
    `p99 ${ms(figures.p99)}, max ${ms(figures.max)}; non-2xx ${number(figures.non2xx)} (${statusList(figures.statuses)}${errors})`
  );
}

/** One request, to see whether a route answers as expected before loading it; a surprise is reported at once. */
async function probe(baseUrl: string, key: string, path: string, what: string): Promise<number> {
  try {
    const response = await fetch(`${baseUrl}${path}`, { headers: { authorization: `Bearer ${key}` } });
    const body = await response.text();
    if (!response.ok)
      progress(
        `WARNING: ${what}: GET ${path} answered ${response.status}: ${body.slice(0, 400)} — its figures below count non-2xx answers`,
      );
    return response.status;
  } catch (error) {
    progress(`WARNING: ${what}: GET ${path} failed: ${(error as Error).message}`);
    return 0;
  }
}

/** Sizes of the database and of the dossiers' and history's partitions with their indexes, in bytes. */
async function sizes(db: Kysely<Database>): Promise<{ database: number; dossiers: number; events: number }> {
  const { rows } = await sql<{ database: string; dossiers: string; events: string }>`
    SELECT pg_database_size(current_database()) AS database,
      (SELECT sum(pg_total_relation_size(relid)) FROM pg_partition_tree('dossiers')) AS dossiers,
      (SELECT sum(pg_total_relation_size(relid)) FROM pg_partition_tree('dossier_events')) AS events`.execute(db);
  return { database: Number(rows[0]!.database), dossiers: Number(rows[0]!.dossiers), events: Number(rows[0]!.events) };
}

async function seed(db: Kysely<Database>, total: number, existing: number): Promise<SeedOutcome> {
  let reported = 0;
  const outcome = await seedDossiers(db, {
    total,
    existing,
    connections: seedConnections,
    onProgress: (so) => {
      if (so.seconds - reported < 5) return;
      reported = so.seconds;
      progress(
        `  seeded ${number(existing + so.dossiers)} of ${number(total)} dossiers (${number(so.dossiers / so.seconds)}/s)`,
      );
    },
  });
  const rowsWritten = outcome.dossiers + outcome.events + outcome.deadLetters;
  record(
    existing === 0 ? `seeding ${number(total)} dossiers` : `seeding ${number(existing)} → ${number(total)} dossiers`,
    `${outcome.seconds.toFixed(1)} s: ${number(outcome.dossiers / outcome.seconds)} dossiers/s, ` +
      `${number(rowsWritten / outcome.seconds)} rows/s (${number(outcome.dossiers)} dossiers, ` +
      `${number(outcome.events)} history rows, ${number(outcome.deadLetters)} dead letters; ${seedConnections} connections)`,
  );
  const vacuumStarted = performance.now();
  await sql`VACUUM (ANALYZE) dossiers, dossier_events, dead_letters, connectors, connector_activity`.execute(db);
  // The seed's dirty pages are written now rather than during the measurements.
  await sql`CHECKPOINT`.execute(db);
  record(
    `VACUUM ANALYZE + CHECKPOINT at ${number(total)}`,
    `${((performance.now() - vacuumStarted) / 1000).toFixed(1)} s`,
  );
  const size = await sizes(db);
  record(
    `database size at ${number(total)} dossiers`,
    `${megabytes(size.database)} (dossiers ${megabytes(size.dossiers)}, history ${megabytes(size.events)}, with indexes)`,
  );
  return outcome;
}

/** Walks the change feed from its start: page times (request → whole body), rows per second. */
async function walkFeed(baseUrl: string, key: string, filter: string, what: string): Promise<void> {
  const times: number[] = [];
  let items = 0;
  let cursor: string | undefined;
  let stop = `${pages} pages`;
  for (let page = 0; page < pages; page++) {
    const path = `/v1/dossiers?limit=1000${filter}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    const pageStarted = performance.now();
    const response = await fetch(`${baseUrl}${path}`, { headers: { authorization: `Bearer ${key}` } });
    const text = await response.text();
    const elapsed = performance.now() - pageStarted;
    if (!response.ok) {
      stop = `page ${page + 1} answered ${response.status}: ${text.slice(0, 200)}`;
      progress(`WARNING: ${what}: GET ${path} answered ${response.status}: ${text.slice(0, 400)}`);
      break;
    }
    times.push(elapsed);
    const body = JSON.parse(text) as { items?: unknown[]; nextCursor?: string | null; hasMore?: boolean };
    items += body.items?.length ?? 0;
    if (!body.hasMore || !body.nextCursor) {
      stop = `the feed ended after ${page + 1} pages`;
      break;
    }
    cursor = body.nextCursor;
  }
  times.sort((a, b) => a - b);
  const total = times.reduce((a, b) => a + b, 0);
  record(
    `change feed, ${what}, pages of 1,000 from the start`,
    `${times.length} pages, ${number(items)} rows: p50 ${ms(quantile(times, 0.5))}, p95 ${ms(quantile(times, 0.95))}, ` +
      `max ${ms(times.at(-1) ?? NaN)} per page; ${number(items / (total / 1000))} rows/s (${stop})`,
  );
}

/** Sequential requests, one after the other: p50/p95 of request → whole body, and the answers' statuses. */
async function sequential(baseUrl: string, key: string, nextPath: () => string, what: string): Promise<number> {
  const times: number[] = [];
  const statuses: Record<string, number> = {};
  for (let i = 0; i < statsRequests; i++) {
    const requestStarted = performance.now();
    const response = await fetch(`${baseUrl}${nextPath()}`, { headers: { authorization: `Bearer ${key}` } });
    await response.arrayBuffer();
    const elapsed = performance.now() - requestStarted;
    statuses[response.status] = (statuses[response.status] ?? 0) + 1;
    if (response.ok) times.push(elapsed);
  }
  times.sort((a, b) => a - b);
  const p95 = quantile(times, 0.95);
  record(
    `${what}, ${statsRequests} sequential requests`,
    `p50 ${ms(quantile(times, 0.5))}, p95 ${ms(p95)}, max ${ms(times.at(-1) ?? NaN)} (${statusList(statuses)})`,
  );
  return p95;
}

/**
 * The refresh's figures from what `fleet stats refresh -o json` prints (its own timing of each province and of all),
 * else the command's wall-clock time, process start included.
 */
function refreshValue(run: FleetRun): string {
  try {
    const view = JSON.parse(run.stdout) as {
      durationMs: number;
      provinces: { provinceCode: string; durationMs: number }[];
    };
    const times = view.provinces.map((province) => province.durationMs).sort((a, b) => a - b);
    const slowest = view.provinces.reduce((a, b) => (b.durationMs > a.durationMs ? b : a));
    return (
      `all ${view.provinces.length} provinces ${(view.durationMs / 1000).toFixed(1)} s; per province ` +
      `p50 ${ms(quantile(times, 0.5))}, max ${ms(slowest.durationMs)} (${slowest.provinceCode}); ` +
      `the command ${run.seconds.toFixed(1)} s with its process start`
    );
  } catch {
    return `${run.seconds.toFixed(1)} s for the command, process start included (its output is not the JSON expected)`;
  }
}

async function machine(db: Kysely<Database>): Promise<string> {
  const { rows } = await sql<{ version: string; buffers: string }>`
    SELECT current_setting('server_version') AS version, current_setting('shared_buffers') AS buffers`.execute(db);
  const cores = cpus();
  return (
    `${cores.length} × ${cores[0]?.model.trim() ?? 'unknown CPU'}, ${number(totalmem() / 1024 ** 3, 1)} GiB RAM; ` +
    `PostgreSQL ${rows[0]!.version} (shared_buffers ${rows[0]!.buffers}), Redis and this load generator on the same cores; Node ${process.version}`
  );
}

async function main(): Promise<void> {
  const base = loadConfig();
  progress(`fresh database next to ${new URL(base.DATABASE_URL).pathname.slice(1)}, migrated`);
  const config: Config = await freshDatabase(base, 'read_bench');
  const gateways: FleetProcess[] = [];
  const db = createDatabase(config.DATABASE_URL, { maxConnections: seedConnections + 1 });
  const cleanUp = async () => {
    await Promise.all(gateways.map((gateway) => gateway.stop()));
    await db.destroy().catch(() => undefined);
    await deleteRedisKeys(config.REDIS_URL, config.QUEUE_PREFIX).catch(() => undefined);
    if (args.keep) progress(`kept the database: ${config.DATABASE_URL}`);
    else
      await dropDatabase(config.DATABASE_URL).catch((error: Error) => progress(`could not drop it: ${error.message}`));
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      interrupted = true;
      progress(`${signal}: stopping the gateway${args.keep ? '' : ' and dropping the database'}`);
      killChildren();
      void cleanUp().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
    });
  }
  process.on('exit', killChildren);

  const checks: string[] = [];
  try {
    rows.push(['machine', await machine(db)]);
    progress(`seeding ${number(dossiers)} dossiers across ${currentProvinces.length} provinces`);
    await seed(db, dossiers, 0);

    // Several gateway processes, as a deployment's replicas behind a balancer: the per-key rate limit and every
    // figure they serve are in Redis and Postgres, shared.
    const ports: number[] = [];
    for (let i = 0; i < gatewayCount; i++) ports.push(await freePort());
    const baseUrl = `http://127.0.0.1:${ports[0]}`;
    progress(`starting ${gatewayCount} gateway process(es) on port(s) ${ports.join(', ')}`);
    for (const port of ports) gateways.push(FleetProcess.start(config, 'gateway', port, gatewayEnv));
    await Promise.all(gateways.map((gateway) => gateway.ready()));
    rows.push(['gateway processes', `${gatewayCount} (one port each; the load generators spread requests over them)`]);
    const gatewaysCpu = () => gateways.reduce((sum, gateway) => sum + gateway.cpuSeconds(), 0);
    const gatewaysPeakRss = () => Math.max(...gateways.map((gateway) => gateway.peakRssBytes()));
    const created = await runFleet(config, ['apikey', 'create', '--name', 'bench', '--scope', 'portal:read']);
    const key = created.stdout.trim().split('\n').at(-1)!.trim();
    const headers = { authorization: `Bearer ${key}` };

    // --- lookups -------------------------------------------------------------------------------------------
    const nextLookup = lookupPaths(dossiers);
    await probe(baseUrl, key, nextLookup(), 'lookup');
    progress('warming up: 3 s of lookups');
    await autocannonLoad({ ports, headers, nextPath: nextLookup, connections, seconds: 3 });
    progress(`lookups at saturation: autocannon, ${connections} connections, ${seconds} s`);
    const gatewayCpu = gatewaysCpu();
    const generatorCpu = process.cpuUsage();
    const saturated = await autocannonLoad({ ports, headers, nextPath: nextLookup, connections, seconds });
    const perLookup = (cpu: number) => `${number((cpu / saturated.answers) * 1e6)} µs`;
    const generator = process.cpuUsage(generatorCpu);
    record(
      `lookups at saturation (autocannon, ${connections} connections, ${seconds} s)`,
      `${loadValue(saturated)}; CPU per lookup: gateways ${perLookup(gatewaysCpu() - gatewayCpu)}, ` +
        `load generator ${perLookup((generator.user + generator.system) / 1e6)}`,
    );

    progress(`lookups at ${number(rate)}/s: autocannon overallRate, ${seconds} s`);
    const quota = await autocannonLoad({
      ports,
      headers,
      nextPath: nextLookup,
      connections: Math.min(connections, rate),
      seconds,
      overallRate: rate,
    });
    const held = (figures: LoadFigures) =>
      figures.perSecond >= 0.97 * rate && figures.errors === 0 ? 'rate held' : 'rate NOT held';
    record(
      `lookups at ${number(rate)}/s (autocannon overallRate: a per-second quota per connection, sent in bursts)`,
      `${held(quota)}: ${loadValue(quota, true)}`,
    );
    progress(`lookups at ${number(rate)}/s: steady open loop, ${seconds} s`);
    const steady = await steadyLoad({ ports, headers, nextPath: nextLookup, rate, seconds });
    record(
      `lookups at ${number(rate)}/s (steady open loop: each request sent when due, latency from then)`,
      `${steady.unsent === 0 ? held(steady) : `rate NOT held (${number(steady.unsent)} requests never sent)`} ` +
        `(send lag p99 ${ms(steady.sendLagP99)}, ${number(steady.connections)} connections): ${loadValue(steady, true)}`,
    );
    checks.push(
      `p99 < 50 ms at ${number(rate)} lookups/s: ${steady.non2xx === steady.answers ? 'n/a (no 2xx answer)' : steady.p99 < 50 && steady.unsent === 0 && held(steady) === 'rate held' ? 'met' : 'NOT met'} ` +
        `(steady loop p99 ${ms(steady.p99)}; autocannon overallRate p99 ${ms(quota.p99)})`,
    );

    // --- change feed ---------------------------------------------------------------------------------------
    progress(`change feed: ${pages} pages of 1,000, national and province ${feedProvince}`);
    await walkFeed(baseUrl, key, '', 'national');
    await walkFeed(baseUrl, key, `&province=${feedProvince}`, `province ${feedProvince}`);
    const lookupsPeak = gatewaysPeakRss();
    record(`largest gateway peak RSS after the lookups and the feed (VmHWM)`, megabytes(lookupsPeak));

    // --- statistics ----------------------------------------------------------------------------------------
    if (statsDossiers > 0) {
      const statsTotal = Math.max(statsDossiers, dossiers);
      if (statsTotal > dossiers) {
        progress(`topping up to ${number(statsTotal)} dossiers for the statistics`);
        await seed(db, statsTotal, dossiers);
      }
      try {
        progress('fleet stats refresh --force -o json (all provinces, one after the other)');
        const refresh = await runFleet(config, ['stats', 'refresh', '--force', '-o', 'json']);
        record(`fleet stats refresh at ${number(statsTotal)} dossiers`, refreshValue(refresh));
      } catch (error) {
        const message = (error as Error).message;
        progress(message);
        record(
          `fleet stats refresh at ${number(statsTotal)} dossiers`,
          `FAILED: ${message.split('\n')[0]!.slice(0, 300)}`,
        );
      }
      const provinceStats = () => `/v1/provinces/${randomProvince()}/stats?${statsQuery}`;
      const nationalStats = () => `/v1/stats?${statsQuery}`;
      await probe(baseUrl, key, provinceStats(), 'province statistics');
      await probe(baseUrl, key, nationalStats(), 'national statistics');
      const provinceP95 = await sequential(
        baseUrl,
        key,
        provinceStats,
        `province stats (random province, ${statsQuery})`,
      );
      await sequential(baseUrl, key, nationalStats, `national stats (${statsQuery})`);
      progress(`statistics under load: autocannon, ${connections} connections, ${seconds} s each`);
      const provinceLoad = await autocannonLoad({ ports, headers, nextPath: provinceStats, connections, seconds });
      record(
        `province stats at saturation (autocannon, ${connections} connections, ${seconds} s)`,
        loadValue(provinceLoad),
      );
      const nationalLoad = await autocannonLoad({ ports, headers, nextPath: nationalStats, connections, seconds });
      record(
        `national stats at saturation (autocannon, ${connections} connections, ${seconds} s)`,
        loadValue(nationalLoad),
      );
      checks.push(
        `province stats p95 < 50 ms at ${number(statsTotal)} dossiers: ${Number.isFinite(provinceP95) ? (provinceP95 < 50 ? 'met' : 'NOT met') : 'n/a (no 2xx answer)'} (sequential p95 ${ms(provinceP95)})`,
      );
    }
    record('largest gateway peak RSS over the whole run (VmHWM)', megabytes(gatewaysPeakRss()));
  } finally {
    if (!interrupted) {
      await cleanUp();
      printTable(checks);
    }
  }
}

/** The figures recorded so far (all of them, or those before a failure) as markdown, on stdout. */
function printTable(checks: string[]): void {
  console.log(
    `## Read API benchmark: ${number(dossiers)} dossiers` +
      (statsDossiers > 0 ? `, statistics at ${number(Math.max(statsDossiers, dossiers))}` : '') +
      ` (${new Date().toISOString().slice(0, 10)}, ${((performance.now() - started) / 1000).toFixed(0)} s)\n`,
  );
  console.log('| figure | value |\n| --- | --- |');
  const cell = (text: string) => text.replaceAll('|', '\\|').replace(/\s*\n\s*/g, ' ');
  for (const [figure, value] of rows) console.log(`| ${cell(figure)} | ${cell(value)} |`);
  if (checks.length > 0) console.log(`\nTargets: ${checks.join('; ')}.`);
}

main().catch((error: Error) => {
  if (interrupted) return;
  console.error(`bench:read failed: ${error.stack ?? error.message}`);
  process.exitCode = 1;
});
