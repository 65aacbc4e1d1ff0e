// Summarises a V8 .cpuprofile (node --cpu-prof) as self time by category: idle, GC, pg, JSON, zod, fastify,
// BullMQ/ioredis, the simulator, our code. Usage: tsx scripts/tools/profile-summary.ts <file.cpuprofile>...
import { readFileSync } from 'node:fs';

/** The parts of a .cpuprofile this script reads. */
interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string }; hitCount?: number }[];
  samples: number[];
  timeDeltas: number[];
}

/** Where a frame's self time goes; the first matching rule wins. */
const categories: [name: string, test: (fn: string, url: string) => boolean][] = [
  ['idle', (fn) => fn === '(idle)'],
  ['GC', (fn) => fn === '(garbage collector)'],
  ['program (V8/native, unattributed)', (fn, url) => fn === '(program)' && url === ''],
  ['JSON parse/stringify', (fn, url) => url === '' && /^(parse|stringify|JSONParse|JSONStringify)$/.test(fn)],
  ['zod', (_, url) => url.includes('/node_modules/zod/')],
  [
    'pg (node-postgres)',
    (_, url) => /\/node_modules\/(pg|pg-protocol|pg-types|pg-pool|postgres-[a-z]+|pg-copy-streams)\//.test(url),
  ],
  ['kysely', (_, url) => url.includes('/node_modules/kysely/')],
  [
    'bullmq + ioredis',
    (_, url) => /\/node_modules\/(bullmq|ioredis|redis-parser|msgpackr|cluster-key-slot)\//.test(url),
  ],
  [
    'fastify (+ light-my-request, find-my-way)',
    (_, url) => /\/node_modules\/(fastify|@fastify|find-my-way|fast-json-stringify|avvio|light-my-request)\//.test(url),
  ],
  ['axios / http client', (_, url) => /\/node_modules\/(axios|follow-redirects|undici)\//.test(url)],
  ['pino', (_, url) => /\/node_modules\/(pino|sonic-boom)/.test(url)],
  ['prom-client', (_, url) => url.includes('/node_modules/prom-client/')],
  ['tsx / esbuild (loader)', (_, url) => /\/node_modules\/(tsx|esbuild)\//.test(url)],
  ['other dependencies', (_, url) => url.includes('/node_modules/')],
  ['simulator', (_, url) => url.includes('/scripts/tools/simulator/')],
  ['our code: connectors (parse, normalise)', (_, url) => url.includes('/connectors/')],
  ['our code: workers', (_, url) => url.includes('/workers/')],
  ['our code: db', (_, url) => url.includes('/db/')],
  ['our code: other', (_, url) => url.startsWith('file://') && !url.includes('/node_modules/')],
  ['node core (net, streams, crypto, …)', (_, url) => url.startsWith('node:') || /^[a-z_/]+\.js$/.test(url)],
  ['native / builtins', () => true],
];

function summarise(file: string): void {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byNode = new Map(profile.nodes.map((node) => [node.id, node]));
  const totals = new Map<string, number>();
  const hotFrames = new Map<string, number>();
  let all = 0;
  profile.samples.forEach((id, index) => {
    const delta = profile.timeDeltas[index] ?? 0;
    const { functionName, url } = byNode.get(id)!.callFrame;
    const category = categories.find(([, test]) => test(functionName, url))![0];
    totals.set(category, (totals.get(category) ?? 0) + delta);
    const frame = `${functionName || '(anonymous)'} ${url.replace(/^.*\/(node_modules\/)?/, '')}`;
    hotFrames.set(frame, (hotFrames.get(frame) ?? 0) + delta);
    all += delta;
  });
  console.log(`${file}: ${(all / 1e6).toFixed(1)} s sampled`);
  for (const [category, micros] of [...totals].sort((a, b) => b[1] - a[1]))
    console.log(
      `  ${((100 * micros) / all).toFixed(1).padStart(5)} %  ${(micros / 1e6).toFixed(2).padStart(7)} s  ${category}`,
    );
  console.log('  hottest frames (self time):');
  for (const [frame, micros] of [...hotFrames].sort((a, b) => b[1] - a[1]).slice(0, 15))
    console.log(`  ${((100 * micros) / all).toFixed(1).padStart(5)} %  ${frame}`);
}

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error('usage: tsx scripts/tools/profile-summary.ts <file.cpuprofile>... (from node --cpu-prof)');
  process.exitCode = 2;
}
for (const file of files) summarise(file);
