// Summary-request latency of the simulator on one large province: what a reconcile with summaries costs the
// source. `tsx scripts/tools/bench-summaries.ts [--dossiers 1000000] [--requests 2000] [--seed 1]`.
// Over loopback, one request at a time (a reconcile of one connector is paced to one request in flight), in the
// mix a reconcile makes: every day of the period, then drill-downs (hours, code halves of a day, small listings),
// then a day pass again after 0.1% silent drift. Progress on stderr, a markdown table on stdout. The first request
// computes every dossier's hash (warmSummaries off, to measure it); by default the simulator does that in the
// background once started.

import { parseArgs } from 'node:util';
import { ProvinceSimulator } from './simulator/province-simulator.js';

const { values: args } = parseArgs({
  options: {
    dossiers: { type: 'string', default: '1000000' },
    requests: { type: 'string', default: '2000' },
    seed: { type: 'string', default: '1' },
    help: { type: 'boolean', default: false },
  },
});
if (args.help) {
  process.stdout.write(
    'tsx scripts/tools/bench-summaries.ts [--dossiers N (1000000)] [--requests N drill-down requests (2000)] [--seed N (1)]\n',
  );
  process.exit(0);
}
const dossiers = Number(args.dossiers);
const drillDowns = Number(args.requests);
if (!Number.isInteger(dossiers) || dossiers < 1) throw new Error('--dossiers must be a positive whole number');
if (!Number.isInteger(drillDowns) || drillDowns < 1) throw new Error('--requests must be a positive whole number');

const day = 86_400_000;
const baseTime = new Date('2026-11-01T00:00:00Z');
const periodStart = baseTime.getTime() - 31 * day;
const log = (line: string) => process.stderr.write(`${line}\n`);

let started = performance.now();
const simulator = new ProvinceSimulator({
  provinces: ['79'],
  dossiersPerProvince: dossiers,
  baseTime,
  paused: true,
  seed: Number(args.seed),
  warmSummaries: false,
});
const url = await simulator.start();
log(`generated ${dossiers} dossiers in ${((performance.now() - started) / 1000).toFixed(1)} s`);

const iso = (at: number) => new Date(at).toISOString();
async function summary(from: number, to: number, extra: Record<string, string> = {}): Promise<number> {
  const query = new URLSearchParams({ province: '79', updatedFrom: iso(from), updatedTo: iso(to), ...extra });
  const sent = performance.now();
  const response = await fetch(`${url}/api/dossiers/summary?${query}`);
  await response.arrayBuffer();
  if (response.status !== 200) throw new Error(`summary answered ${response.status}`);
  return performance.now() - sent;
}

const results: { name: string; latencies: number[] }[] = [];
async function measure(name: string, requests: (() => Promise<number>)[]): Promise<void> {
  const latencies: number[] = [];
  for (const request of requests) latencies.push(await request());
  results.push({ name, latencies });
  log(`${name}: ${latencies.length} requests`);
}

let seed = 12345;
const random = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
const days = Array.from({ length: 32 }, (_, index) => periodStart + index * day);
const dayPass = () => days.map((from) => () => summary(from, from + day));

await measure('whole period, cold (every hash computed)', [() => summary(periodStart, baseTime.getTime() + day)]);
await measure(
  'whole period, warm',
  Array.from({ length: 20 }, () => () => summary(periodStart, baseTime.getTime() + day)),
);
await measure('one day (a day pass)', [...dayPass(), ...dayPass(), ...dayPass()]);
const share = Math.floor(drillDowns / 3);
await measure(
  'one hour (time drill-down)',
  Array.from({ length: share }, () => {
    const from = periodStart + Math.floor(random() * 31 * 24) * 3_600_000;
    return () => summary(from, from + 3_600_000);
  }),
);
const codeOf = (sequence: number) => `79.2026.${String(sequence).padStart(6, '0')}`;
await measure(
  'one day, half the code range (code drill-down)',
  Array.from({ length: share }, () => {
    const from = days[Math.floor(random() * 31)] as number;
    const middle = 1 + Math.floor(random() * dossiers);
    return random() < 0.5
      ? () => summary(from, from + day, { codeTo: codeOf(middle) })
      : () => summary(from, from + day, { codeFrom: codeOf(middle) });
  }),
);
await measure(
  'ten minutes, listing=true',
  Array.from({ length: drillDowns - 2 * share }, () => {
    const from = periodStart + Math.floor(random() * 31 * 144) * 600_000;
    return () => summary(from, from + 600_000, { listing: 'true' });
  }),
);
const drift = simulator.injectDrift('79', 'silent-change', { count: Math.max(1, Math.round(dossiers / 1000)) });
log(`silent-change drift: ${drift.dossierCodes.length} dossiers`);
await measure('one day after 0.1% drift (touched runs re-summed)', dayPass());

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] as number;
process.stdout.write(
  `\n${dossiers.toLocaleString('en')} dossiers in one province, ${results.reduce((n, r) => n + r.latencies.length, 0)} summary requests over loopback, one at a time\n\n`,
);
process.stdout.write('| request | n | p50 ms | p95 ms | max ms |\n| --- | --- | --- | --- | --- |\n');
for (const { name, latencies } of results) {
  const sorted = [...latencies].sort((a, b) => a - b);
  const f = (value: number) => value.toFixed(2);
  process.stdout.write(
    `| ${name} | ${sorted.length} | ${f(percentile(sorted, 0.5))} | ${f(percentile(sorted, 0.95))} | ${f(sorted.at(-1) as number)} |\n`,
  );
}
process.stdout.write(`\npeak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB (generation included)\n`);
started = performance.now();
await simulator.stop();
