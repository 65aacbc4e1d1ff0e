/**
 * How fast source dates are read: the named formats with the code before date patterns (read from git at
 * `--baseline`, the last commit with the closed list of five) against the same formats as compiled date
 * patterns, and a few patterns only the new code reads. Both run in this one process, in alternating rounds,
 * over the same texts; the results must be the same instants.
 *
 *   npx tsx scripts/tools/bench-dates.ts [--count 1000000] [--rounds 5] [--baseline 81f03e1]
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { DatePattern } from '../../connectors/sdk/date-pattern.js';
import { dateFormats, type DateFormat } from '../../connectors/sdk/dates.js';

const { values: args } = parseArgs({
  options: {
    count: { type: 'string', default: '1000000' },
    rounds: { type: 'string', default: '5' },
    baseline: { type: 'string', default: '81f03e1' },
  },
});
const count = Number(args.count);
const rounds = Number(args.rounds);

type Parse = (value: unknown, field: string) => Date | null;

/** The baseline's parseSourceDate, written out of git into a scratch directory and imported from there. */
async function baselineParser(
  ref: string,
): Promise<(value: unknown, field: string, format: DateFormat) => Date | null> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-dates-'));
  try {
    for (const file of ['connectors/sdk/dates.ts', 'connectors/sdk/mapping-error.ts']) {
      writeFileSync(
        join(dir, basename(file)),
        execFileSync('git', ['show', `${ref}:${file}`], { cwd: new URL('../..', import.meta.url) }),
      );
    }
    const module = (await import(pathToFileURL(join(dir, 'dates.ts')).href)) as {
      parseSourceDate: (value: unknown, field: string, format: DateFormat) => Date | null;
    };
    return module.parseSourceDate;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** 100,000 distinct texts of one format, spread over ten years (cycled to `count` reads). */
function texts(write: (date: Date) => string): string[] {
  return Array.from({ length: 100_000 }, (_, i) =>
    write(new Date(Date.UTC(2020, 0, 1) + ((i * 3_155_760_127) % (10 * 365 * 86_400_000)))),
  );
}

/** Reads `count` texts; records per second and a checksum of the instants read. */
function measure(parse: Parse, values: string[], reads = count): { perSecond: number; checksum: number } {
  let checksum = 0;
  const started = process.hrtime.bigint();
  for (let i = 0; i < reads; i += 1) checksum += parse(values[i % values.length], 'NgayCapNhat')!.getTime() % 1_000_003;
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return { perSecond: reads / seconds, checksum };
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const rate = (perSecond: number) => `${(perSecond / 1e6).toFixed(2)} M/s`.padStart(10);

const baseline = await baselineParser(args.baseline);
console.log(
  `${count.toLocaleString('en')} dates per measurement, median of ${rounds} alternating rounds; baseline ${args.baseline}`,
);
console.log(`${'format'.padEnd(28)} ${'before'.padStart(10)} ${'patterns'.padStart(10)}  ratio`);
let slower = false;
for (const format of dateFormats) {
  const pattern = DatePattern.compile(format);
  const values = texts((date) => pattern.format(date));
  const before: number[] = [];
  const after: number[] = [];
  // Warm both up first, so neither pays for the compiler in its measurements.
  measure((value, field) => baseline(value, field, format), values, 200_000);
  measure((value, field) => pattern.parse(value, field), values, 200_000);
  for (let round = 0; round < rounds; round += 1) {
    const old = measure((value, field) => baseline(value, field, format), values);
    const now = measure((value, field) => pattern.parse(value, field), values);
    if (old.checksum !== now.checksum) throw new Error(`${format}: the two read different instants`);
    before.push(old.perSecond);
    after.push(now.perSecond);
  }
  const ratio = median(after) / median(before);
  slower ||= ratio < 1;
  console.log(`${format.padEnd(28)} ${rate(median(before))} ${rate(median(after))}  ${ratio.toFixed(2)}×`);
}
for (const text of [
  'dd/MM/yyyy HH:mm',
  'yyyy-MM-dd HH:mm:ss.SSS',
  "yyyy-MM-dd'T'HH:mm:ssXXX",
  'dd/MM/yyyy[ HH:mm[:ss]]',
]) {
  const pattern = DatePattern.compile(text);
  const values = texts((date) => pattern.format(date));
  measure((value, field) => pattern.parse(value, field), values, 200_000);
  const after = Array.from(
    { length: rounds },
    () => measure((value, field) => pattern.parse(value, field), values).perSecond,
  );
  console.log(`${text.padEnd(28)} ${'-'.padStart(10)} ${rate(median(after))}`);
}
if (slower) console.log('a pattern read slower than the code before it');
