// How the writer's upsert should receive a batch (issue #14 item 2): one JSON parameter read by `json_to_recordset`
// (the writer's form), the same parameter cast to jsonb and read by `jsonb_to_recordset` (its form until
// 2026-12-08), or COPY into a staging table and then the same guarded statement reading it. Each form writes the same N
// records in batches of --batch, each batch in a transaction of its own as the writer commits it, into a fresh
// migrated database: first as inserts (every dossier new), then as updates (each at version 2 with another
// status: a current row and a history row each). The forms alternate, --rounds times each, so that a machine
// getting busier does not favour one; the figures are records/s of each phase and the best and median of the rounds.
// Usage: npx tsx scripts/tools/bench-upsert-input.ts [--records 100000] [--batch 1000] [--rounds 3]

import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { loadConfig } from '../../config/env.js';
import type { DossierRecord } from '../../connectors/sdk/dossier-record.js';
import type { Database } from '../../db/schema.js';
import {
  incomingColumns,
  provincesOf,
  reduceBatch,
  upsertDossiers,
  upsertDossiersFrom,
  type UpsertOutcome,
} from '../../db/queries/upsert-dossiers.js';
import { dropDatabase, freshDatabase, quantile, wholeNumberOption } from './bench-support.js';
import { canonicalRecords } from './bench/canonical-records.js';
import { copyText, dossierColumns } from './bench/copy-phase.js';

const { values: args } = parseArgs({
  options: {
    records: { type: 'string', default: '100000' },
    batch: { type: 'string', default: '1000' },
    rounds: { type: 'string', default: '3' },
  },
});
const records = wholeNumberOption('records', args.records);
const batchSize = wholeNumberOption('batch', args.batch);
const rounds = wholeNumberOption('rounds', args.rounds);

/** A way of handing a batch to the upsert, on one session (`client`, which `db` runs on too). */
interface InputForm {
  name: string;
  /** Once per session, before the first batch. */
  prepare: (db: Kysely<Database>) => Promise<void>;
  write: (client: pg.Client, db: Kysely<Database>, batch: readonly DossierRecord[]) => Promise<UpsertOutcome>;
}

const stagedColumns = [...dossierColumns, 'newest'] as const;

const forms: InputForm[] = [
  {
    name: 'json_to_recordset parameter (the writer)',
    prepare: async () => {},
    write: (_client, db, batch) => upsertDossiers(db, batch),
  },
  {
    name: 'jsonb_to_recordset parameter',
    prepare: async () => {},
    write: (_client, db, batch) => {
      const rows = reduceBatch(batch);
      return upsertDossiersFrom(
        db,
        sql`SELECT * FROM jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) AS r(${incomingColumns})`,
        batch.length,
        provincesOf(rows),
      );
    },
  },
  {
    name: 'COPY into a staging table, then the guarded statement',
    // A temporary table per session, emptied by each commit: no WAL, nothing to clean up.
    prepare: async (db) => {
      await sql`CREATE TEMP TABLE incoming_batch (${incomingColumns}) ON COMMIT DELETE ROWS`.execute(db);
    },
    write: async (client, db, batch) => {
      const rows = reduceBatch(batch);
      let text = '';
      for (const row of rows) text += `${stagedColumns.map((column) => copyText(row[column])).join('\t')}\n`;
      await pipeline(
        Readable.from([text]),
        client.query(copyFrom(`COPY incoming_batch (${stagedColumns.join(', ')}) FROM STDIN`)),
      );
      return upsertDossiersFrom(db, sql`SELECT * FROM incoming_batch`, batch.length, provincesOf(rows));
    },
  },
];

/** A kysely handle over one client that stays checked out: the COPY and the statement share its session. */
function databaseOver(client: pg.Client): Kysely<Database> {
  const pool = {
    connect: async () => Object.assign(client, { release: () => {} }),
    end: async () => {},
  };
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool: pool as unknown as pg.Pool }) });
}

/** One form's run on a fresh database: inserts, then updates; records/s of each. */
async function measure(form: InputForm, round: number): Promise<{ insert: number; update: number }> {
  const config = await freshDatabase(loadConfig(), `upsert_input_${round}`);
  const client = new pg.Client({ connectionString: config.DATABASE_URL });
  await client.connect();
  const db = databaseOver(client);
  try {
    await form.prepare(db);
    const inserts = canonicalRecords(records);
    const updates = inserts.map((record) => ({
      ...record,
      sourceVersion: 2,
      status: record.status === 10 ? (1 as const) : ((record.status + 1) as DossierRecord['status']),
      sourceUpdatedAt: new Date().toISOString(),
      observedAt: new Date().toISOString(),
    }));
    const phase = async (all: readonly DossierRecord[], expect: keyof UpsertOutcome) => {
      let done = 0;
      const started = performance.now();
      for (let i = 0; i < all.length; i += batchSize) {
        const batch = all.slice(i, i + batchSize);
        await client.query('BEGIN');
        const outcome = await form.write(client, db, batch);
        await client.query('COMMIT');
        done += outcome[expect] as number;
      }
      if (done !== all.length) throw new Error(`${form.name}: ${done} of ${all.length} records were ${expect}`);
      return all.length / ((performance.now() - started) / 1000);
    };
    return { insert: await phase(inserts, 'inserted'), update: await phase(updates, 'updated') };
  } finally {
    await client.end();
    await dropDatabase(config.DATABASE_URL);
  }
}

const results = new Map(forms.map((form) => [form.name, { insert: [] as number[], update: [] as number[] }]));
for (let round = 1; round <= rounds; round++)
  for (const form of round % 2 === 1 ? forms : [...forms].reverse()) {
    const figures = await measure(form, round);
    results.get(form.name)!.insert.push(figures.insert);
    results.get(form.name)!.update.push(figures.update);
    process.stderr.write(
      `round ${round}, ${form.name}: ${figures.insert.toFixed(0)} inserts/s, ${figures.update.toFixed(0)} updates/s\n`,
    );
  }

const sorted = (values: number[]) => [...values].sort((a, b) => a - b);
const cell = (values: number[]) =>
  `${Math.round(quantile(sorted(values), 0.5)).toLocaleString('en')} (best ${Math.round(Math.max(...values)).toLocaleString('en')})`;
console.log(
  `\n${records.toLocaleString('en')} records in batches of ${batchSize}, a transaction each, ${rounds} rounds per form, alternating\n`,
);
console.log('| input form | inserts/s, median (best) | updates/s, median (best) |');
console.log('| --- | --- | --- |');
for (const [name, figures] of results) console.log(`| ${name} | ${cell(figures.insert)} | ${cell(figures.update)} |`);
const [writer, ...others] = [...results.entries()];
const median = (kind: 'insert' | 'update', figures: { insert: number[]; update: number[] }) =>
  quantile(sorted(figures[kind]), 0.5);
console.log('');
for (const [name, figures] of others) {
  const ratio = (kind: 'insert' | 'update') => (median(kind, figures) / median(kind, writer![1])).toFixed(2);
  console.log(`${name} / the writer's form, ratio of medians: inserts ${ratio('insert')}, updates ${ratio('update')}`);
}
