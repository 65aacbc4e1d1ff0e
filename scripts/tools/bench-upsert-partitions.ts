// Whether a batch's cost grows with the whole country's table (issue #14): N new dossiers spread evenly over the 34
// provinces, stored in batches of one province each (as a writer group is one province's queue), round-robin over
// the provinces, each batch a transaction, into a fresh migrated database. Two forms of the same statement,
// alternated --rounds times each:
//   - the writer's: the guard reads the stored rows from the batch's provinces' partitions only (`provincesOf`);
//   - every partition: the same statement given all 34 province codes, which is what the planner read before
//     2026-12-08, when the statement named no province.
// Prints the records/s of each fifth of a run (a cost that grows with the table shows as falling fifths) and of the
// whole run, the median of the rounds, and the ratio of the whole-run medians.
// Usage: npx tsx scripts/tools/bench-upsert-partitions.ts [--records 300000] [--batch 2000] [--rounds 3]

import { parseArgs } from 'node:util';
import { sql } from 'kysely';
import { loadConfig } from '../../config/env.js';
import { currentProvinces } from '../../config/provinces.js';
import type { DossierRecord } from '../../connectors/sdk/dossier-record.js';
import { createDatabase } from '../../db/database.js';
import { incomingColumns, provincesOf, reduceBatch, upsertDossiersFrom } from '../../db/queries/upsert-dossiers.js';
import { dropDatabase, freshDatabase, median, wholeNumberOption } from './bench-support.js';
import { canonicalRecords } from './bench/canonical-records.js';

const { values: args } = parseArgs({
  options: {
    records: { type: 'string', default: '300000' },
    batch: { type: 'string', default: '2000' },
    rounds: { type: 'string', default: '3' },
  },
});
const records = wholeNumberOption('records', args.records);
const batchSize = wholeNumberOption('batch', args.batch);
const rounds = wholeNumberOption('rounds', args.rounds);

const everyProvince = currentProvinces.map(({ code }) => code);

/** A form: which province codes the statement is given for a batch's rows. */
const forms: { name: string; provinces: (rows: ReturnType<typeof reduceBatch>) => string[] }[] = [
  { name: "the batch's provinces' partitions (the writer)", provinces: provincesOf },
  { name: 'every partition (before 2026-12-08)', provinces: () => everyProvince },
];

/** The records in batches of one province each, round-robin over the provinces. */
function provinceBatches(all: readonly DossierRecord[]): DossierRecord[][] {
  const byProvince = new Map<string, DossierRecord[]>();
  for (const record of all) {
    const list = byProvince.get(record.provinceCode) ?? [];
    list.push(record);
    byProvince.set(record.provinceCode, list);
  }
  const lists = [...byProvince.values()];
  const batches: DossierRecord[][] = [];
  for (let offset = 0; lists.some((list) => offset < list.length); offset += batchSize)
    for (const list of lists) if (offset < list.length) batches.push(list.slice(offset, offset + batchSize));
  return batches;
}

/** One form's run on a fresh database: records/s of each fifth and of the whole run. */
async function measure(form: (typeof forms)[number], round: number): Promise<{ fifths: number[]; whole: number }> {
  const config = await freshDatabase(loadConfig(), `upsert_partitions_${round}`);
  const db = createDatabase(config.DATABASE_URL, { maxConnections: 1 });
  try {
    const batches = provinceBatches(canonicalRecords(records));
    const fifths: number[] = [];
    const started = performance.now();
    let fifthStarted = started;
    let done = 0;
    let fifthDone = 0;
    for (const batch of batches) {
      const rows = reduceBatch(batch);
      const outcome = await db
        .transaction()
        .execute((trx) =>
          upsertDossiersFrom(
            trx,
            sql`SELECT * FROM json_to_recordset(${JSON.stringify(rows)}::json) AS r(${incomingColumns})`,
            batch.length,
            form.provinces(rows),
          ),
        );
      if (outcome.inserted !== batch.length)
        throw new Error(`${form.name}: ${outcome.inserted} of a batch of ${batch.length} new dossiers inserted`);
      done += batch.length;
      if (done - fifthDone >= records / 5 || done === records) {
        const now = performance.now();
        fifths.push((done - fifthDone) / ((now - fifthStarted) / 1000));
        fifthStarted = now;
        fifthDone = done;
      }
    }
    return { fifths, whole: records / ((performance.now() - started) / 1000) };
  } finally {
    await db.destroy();
    await dropDatabase(config.DATABASE_URL);
  }
}

const results = new Map(forms.map((form) => [form.name, [] as { fifths: number[]; whole: number }[]]));
for (let round = 1; round <= rounds; round++)
  for (const form of round % 2 === 1 ? forms : [...forms].reverse()) {
    const figures = await measure(form, round);
    results.get(form.name)!.push(figures);
    process.stderr.write(
      `round ${round}, ${form.name}: ${Math.round(figures.whole)} records/s; by fifth ${figures.fifths.map(Math.round).join(' · ')}\n`,
    );
  }

const rate = (value: number) => Math.round(value).toLocaleString('en');
console.log(
  `\n${records.toLocaleString('en')} new dossiers over ${everyProvince.length} provinces, batches of ${batchSize} of one province, round-robin, ${rounds} rounds per form, alternating\n`,
);
console.log('| the guard reads | records/s, median | by fifth of the run, median |');
console.log('| --- | --- | --- |');
for (const [name, runs] of results) {
  const fifths = runs[0]!.fifths.map((_, i) => median(runs.map((run) => run.fifths[i] ?? 0)));
  console.log(`| ${name} | ${rate(median(runs.map((run) => run.whole)))} | ${fifths.map(rate).join(' · ')} |`);
}
const [writer, every] = [...results.values()];
console.log(
  `\nevery partition / the writer's, ratio of medians: ${(median(every!.map((run) => run.whole)) / median(writer!.map((run) => run.whole))).toFixed(2)}`,
);
