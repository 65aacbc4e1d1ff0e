// Reconcile against a full re-sync, on one large province with 0.1% drift spread over its period:
// `tsx scripts/tools/bench-reconcile.ts [--dossiers 1000000] [--seed 1]`.
// The simulator serves the province (paused, so the truth holds still) behind a counting proxy; our copy is made
// equal to the truth by the full re-sync itself (`fleet backfill` over the whole period through a writer: its time and
// requests are the re-sync's figures). Then, each after a fresh 0.1% drift (a quarter each of silent-change,
// lost-push, delete and rewrite-history): `fleet reconcile` of a connector with summaries (digests, fetch by code),
// and of one without (summaries: false: page by page). Every `fleet` command is a child process measured with
// /usr/bin/time (peak RSS). Before each timed run this process's garbage is collected (collectGarbage: the
// simulator's heap is millions of objects, and a collection the bench's own drift injection set off would otherwise
// stall the source for seconds in the middle of a run). Progress on stderr, a markdown table on stdout.

import { spawn } from 'node:child_process';
import { createServer, request as httpRequest } from 'node:http';
import { parseArgs } from 'node:util';
import { sql } from 'kysely';
import { loadConfig, type Config } from '../../config/env.js';
import { createDatabase } from '../../db/database.js';
import { saveConnector } from '../../db/queries/connectors.js';
import {
  collectGarbage,
  deleteRedisKeys,
  dropDatabase,
  benchNodeArgs,
  fleetBin,
  FleetProcess,
  freePort,
  freshDatabase,
  killChildren,
  median,
  useCompiledFleet,
} from './bench-support.js';
import { ProvinceSimulator } from './simulator/province-simulator.js';

const { values: args } = parseArgs({
  options: {
    dossiers: { type: 'string', default: '1000000' },
    seed: { type: 'string', default: '1' },
    // Leaves out the reconcile page by page (the longest run, its code unchanged by a change to summaries).
    'skip-pages': { type: 'boolean', default: false },
    // The reconcile with summaries N times, each after a fresh drift: the verdict is on their median (the machine is
    // shared, and one run of a second and a half moves by tenths with its neighbours).
    repeat: { type: 'string', default: '1' },
    // Every fleet process from the build (npm run build first), as production runs it, not through tsx.
    compiled: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});
if (args.help) {
  process.stdout.write(
    'tsx scripts/tools/bench-reconcile.ts [--dossiers N (1000000)] [--seed N (1)] [--repeat N (1)] [--skip-pages] [--compiled]\n',
  );
  process.exit(0);
}
const dossiers = Number(args.dossiers);
if (!Number.isInteger(dossiers) || dossiers < 1000) throw new Error('--dossiers must be a whole number, 1000 or more');
const repeat = Number(args.repeat);
if (!Number.isInteger(repeat) || repeat < 1) throw new Error('--repeat must be a whole number, 1 or more');

const day = 86_400_000;
const baseTime = new Date('2026-11-01T00:00:00Z');
const rangeFrom = new Date(baseTime.getTime() - 32 * day);
const rangeTo = new Date(baseTime.getTime() + day);
const log = (line: string) => process.stderr.write(`${line}\n`);

/** The simulator behind a proxy that counts the requests it forwards, and times them by path (to the answer's end). */
async function countingProxy(target: string): Promise<{
  url: string;
  count: () => number;
  timings: () => Map<string, { ms: number; requests: number }>;
  close: () => void;
}> {
  const upstream = new URL(target);
  let requests = 0;
  let byPath = new Map<string, { ms: number; requests: number }>();
  const server = createServer((incoming, outgoing) => {
    requests += 1;
    const started = performance.now();
    const path = `${incoming.method} ${(incoming.url ?? '').split('?')[0]}`;
    outgoing.on('finish', () => {
      const total = byPath.get(path) ?? { ms: 0, requests: 0 };
      total.ms += performance.now() - started;
      total.requests += 1;
      byPath.set(path, total);
    });
    const forwarded = httpRequest(
      {
        host: upstream.hostname,
        port: upstream.port,
        path: incoming.url,
        method: incoming.method,
        headers: incoming.headers,
      },
      (answer) => {
        outgoing.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(outgoing);
      },
    );
    forwarded.on('error', () => outgoing.destroy());
    incoming.pipe(forwarded);
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${port}`,
    count: () => requests,
    // The timings since the last call.
    timings: () => {
      const taken = byPath;
      byPath = new Map();
      return taken;
    },
    close: () => server.close(),
  };
}

/** A `fleet` command to its end under /usr/bin/time: its seconds, output and peak RSS. */
function measuredFleet(
  config: Config,
  fleetArgs: string[],
  logLevel = 'warn',
): Promise<{ seconds: number; stdout: string; peakRssMb: number }> {
  const env: Record<string, string> = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp' };
  for (const [key, value] of Object.entries(config)) env[key] = String(value);
  env.LOG_LEVEL = logLevel;
  const started = performance.now();
  const nodeArgs = benchNodeArgs();
  const child = spawn('/usr/bin/time', ['-v', process.execPath, ...nodeArgs, fleetBin, ...fleetArgs], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      const seconds = (performance.now() - started) / 1000;
      const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(stderr);
      if (code !== 0)
        reject(new Error(`fleet ${fleetArgs.join(' ')} exited with ${code}: ${(stderr || stdout).slice(-2000)}`));
      else resolve({ seconds, stdout, peakRssMb: rss ? Number(rss[1]) / 1024 : NaN });
    });
  });
}

async function main(): Promise<void> {
  if (args.compiled) {
    log('npm run build…');
    useCompiledFleet();
  }
  const config = await freshDatabase(loadConfig(), 'reconcile_bench');
  const db = createDatabase(config.DATABASE_URL, { maxConnections: 2 });
  let started = performance.now();
  const simulator = new ProvinceSimulator({
    provinces: ['79'],
    dossiersPerProvince: dossiers,
    baseTime,
    paused: true,
    seed: Number(args.seed),
  });
  const proxy = countingProxy(await simulator.start());
  const { url, count, timings, close } = await proxy;
  log(`generated ${dossiers} dossiers in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  const connector = (id: string, summaries: boolean) =>
    saveConnector(db, {
      id,
      sourceProvinceCode: '79',
      sourceCodeSet: '2025',
      kind: 'national-rest',
      // By-code requests at the most the simulator takes (200), so that a pass's fetch is few requests.
      config: {
        baseUrl: url,
        pageSize: 1000,
        lookbackSeconds: 3,
        summaries,
        fetchBatchSize: 200,
        rateLimit: { requestsPerSecond: 1000 },
      },
      pollIntervalMs: 3_600_000,
    });
  await connector('sim-79', true);
  await connector('sim-79-plain', false);
  const writer = FleetProcess.start(config, 'writer', await freePort());
  const range = ['--from', rangeFrom.toISOString(), '--to', rangeTo.toISOString()];
  const rows: {
    name: string;
    seconds: number;
    /** The run's own seconds (reconcile_runs.run_seconds): without the process's start and connection set-up. */
    runSeconds: number | null;
    requests: number;
    records: number;
    rss: number;
    found: string;
  }[] = [];
  try {
    await writer.ready();
    // The full re-sync: every record of the period read and stored (it also makes our copy equal to the truth).
    let before = count();
    log('full re-sync (fleet backfill over the whole period)…');
    collectGarbage();
    const resync = await measuredFleet(config, ['backfill', '--connector', 'sim-79', ...range]);
    const stored = Number((await sql<{ n: string }>`SELECT count(*) AS n FROM dossiers`.execute(db)).rows[0]!.n);
    rows.push({
      name: 'full re-sync (fleet backfill)',
      seconds: resync.seconds,
      runSeconds: null,
      requests: count() - before,
      records: stored,
      rss: resync.peakRssMb,
      found: '-',
    });
    log(`  ${resync.seconds.toFixed(1)} s, ${count() - before} requests, ${stored} dossiers stored`);
    // The copy as a reconcile meets it in production, stored long before: autovacuum has marked its pages all-visible,
    // so a digest is an index-only scan. Right after a bulk load of a million rows it is not yet (autovacuum runs a
    // minute behind at best), and every index entry would cost a heap visit (2.6× the statement's time, measured).
    started = performance.now();
    await sql`VACUUM (ANALYZE) dossiers`.execute(db);
    // And the re-sync's half a gigabyte of WAL checkpointed now, not by a checkpoint spread over the next runs' time.
    await sql`CHECKPOINT`.execute(db);
    log(
      `  VACUUM (ANALYZE) and CHECKPOINT after it (autovacuum's steady state): ${((performance.now() - started) / 1000).toFixed(1)} s`,
    );

    const drift = () => {
      const quarter = Math.max(1, Math.round(dossiers / 4000));
      const reports = [
        simulator.injectDrift('79', 'silent-change', { count: quarter }),
        simulator.injectDrift('79', 'lost-push', { count: quarter, lookbackSeconds: 3 }),
        simulator.injectDrift('79', 'delete', { count: quarter }),
        simulator.injectDrift('79', 'rewrite-history', { count: quarter }),
      ];
      return reports.reduce((sum, report) => sum + report.dossierCodes.length, 0);
    };
    const withSummaries = 'reconcile with summaries (digests, fetch by code)';
    for (const [name, id] of [
      ...Array.from({ length: repeat }, () => [withSummaries, 'sim-79'] as const),
      ['reconcile without summaries (page by page)', 'sim-79-plain'] as const,
    ]) {
      if (args['skip-pages'] && id === 'sim-79-plain') continue;
      const injected = drift();
      collectGarbage();
      before = count();
      timings();
      log(`${name}: ${injected} dossiers drifted…`);
      const startedAt = Date.now();
      // At info, the run's start and end lines (with where its time went, by phase) are read from its log.
      const run = await measuredFleet(config, ['reconcile', '--connector', id, ...range], 'info');
      const lines = run.stdout
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as { time: number; msg: string; phases?: unknown });
      const startLine = lines.find((line) => line.msg.startsWith('reconcile started'));
      const endLine = lines.find((line) => line.phases !== undefined);
      if (startLine && endLine)
        log(
          `  process start to run start ${((startLine.time - startedAt) / 1000).toFixed(2)} s, run ${((endLine.time - startLine.time) / 1000).toFixed(2)} s, end line to exit ${(startedAt / 1000 + run.seconds - endLine.time / 1000).toFixed(2)} s; phases (ms): ${JSON.stringify(endLine.phases)}`,
        );
      for (const [path, { ms, requests }] of timings())
        log(`  source ${path}: ${requests} requests, ${ms.toFixed(0)} ms to answer`);
      const row = await db
        .selectFrom('reconcile_runs')
        .selectAll()
        .where('connector_id', '=', id)
        .orderBy('id', 'desc')
        .executeTakeFirstOrThrow();
      const found =
        Number(row.missing_here) + Number(row.extra_here) + Number(row.different_version) + Number(row.different_state);
      rows.push({
        name,
        seconds: run.seconds,
        runSeconds: Number(row.run_seconds),
        requests: count() - before,
        records: Number(row.records_fetched),
        rss: run.peakRssMb,
        found: `${found} of ${injected} injected (${row.repaired} repaired)`,
      });
      // What a run does not repair (a deleted dossier, a version gone backwards: reported, not written) would differ
      // again in every later run; an operator who accepts the source's word settles it, and so does the bench, so that
      // each repeat starts from a copy equal to the source but for its own fresh drift.
      if (id === 'sim-79' && (repeat > 1 || !args['skip-pages'])) {
        const { rows: unrepaired } = await sql<{ dossier_code: string }>`
          SELECT dossier_code FROM reconcile_mismatches WHERE run_id = ${row.id} AND NOT repaired`.execute(db);
        const codes = new Set(unrepaired.map((mismatch) => mismatch.dossier_code));
        const truth = [...simulator.truth()].filter((dossier) => codes.has(dossier.dossierCode));
        await sql`
          DELETE FROM dossiers WHERE province_code = '79' AND dossier_code = ANY(${[...codes]}::text[])
            AND NOT dossier_code = ANY(${truth.map((dossier) => dossier.dossierCode)}::text[])`.execute(db);
        await sql`
          UPDATE dossiers d SET source_version = t.version, status = t.status, source_updated_at = t.updated_at
          FROM unnest(${truth.map((dossier) => dossier.dossierCode)}::text[], ${truth.map((dossier) => dossier.version)}::bigint[],
            ${truth.map((dossier) => dossier.status)}::smallint[], ${truth.map((dossier) => dossier.updatedAt)}::timestamptz[])
            AS t(code, version, status, updated_at)
          WHERE d.province_code = '79' AND d.dossier_code = t.code`.execute(db);
        log(`  the run's ${codes.size} unrepaired mismatches settled in our copy to the source's word`);
      }
      const printed = run.stdout
        .split('\n')
        .filter((line) => line.trim() !== '' && !line.startsWith('{'))
        .join(' ');
      log(`  ${run.seconds.toFixed(1)} s, ${count() - before} requests; ${printed}`);
    }
  } finally {
    await writer.stop();
    close();
    await simulator.stop();
    await db.destroy();
    await deleteRedisKeys(config.REDIS_URL, config.QUEUE_PREFIX);
    await dropDatabase(config.DATABASE_URL);
  }
  const resync = rows[0]!;
  const summarised = rows.filter((row) => row.name.startsWith('reconcile with summaries'));
  const without = rows.find((row) => row.name.startsWith('reconcile without summaries'));
  process.stdout.write(
    `\n${dossiers.toLocaleString('en')} dossiers in one province over ${Math.round((rangeTo.getTime() - rangeFrom.getTime()) / day)} days, 0.1% drift per reconcile; requests counted at a proxy in front of the simulator; peak RSS of the fleet process; fleet ${args.compiled ? 'from the build (--compiled)' : 'through tsx'}\n\n`,
  );
  process.stdout.write(
    '| run | time s | of it the run s | requests to the source | records read | peak RSS MB | found |\n| --- | --- | --- | --- | --- | --- | --- |\n',
  );
  for (const row of rows)
    process.stdout.write(
      `| ${row.name} | ${row.seconds.toFixed(1)} | ${row.runSeconds === null ? '-' : row.runSeconds.toFixed(1)} | ${row.requests} | ${row.records} | ${row.rss.toFixed(0)} | ${row.found} |\n`,
    );
  const speedup = resync.seconds / median(summarised.map((row) => row.seconds));
  const share = median(summarised.map((row) => row.requests)) / resync.requests;
  process.stdout.write(
    `\nwith summaries${summarised.length > 1 ? ` (median of ${summarised.length} runs: ${summarised.map((row) => (resync.seconds / row.seconds).toFixed(1)).join(', ')}×)` : ''}: ${speedup.toFixed(1)}× faster than the re-sync (target ≥ 50×: ${speedup >= 50 ? 'met' : 'not met'}), ${(share * 100).toFixed(2)}% of its requests (target < 1%: ${share < 0.01 ? 'met' : 'not met'})${without ? `; without summaries: ${(resync.seconds / without.seconds).toFixed(1)}× faster than the re-sync, ${((without.requests / resync.requests) * 100).toFixed(1)}% of its requests, peak RSS ${without.rss.toFixed(0)} MB` : ''}\n`,
  );
  void started;
  started = 0;
}

process.on('exit', killChildren);
await main();
