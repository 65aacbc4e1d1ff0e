// The raw limit: COPY of the N canonical records, from Node, into a twin of `dossiers` — the same columns, keys,
// indexes, check and partitions by province — with nothing of the pipeline around it (no queue, no guard, no
// history). What end to end is measured against.

import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { sql } from 'kysely';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { Config } from '../../../config/env.js';
import { currentProvinces } from '../../../config/provinces.js';
import type { DossierRecord } from '../../../connectors/sdk/dossier-record.js';
import { createDatabase } from '../../../db/database.js';
import { reduceBatch } from '../../../db/queries/upsert-dossiers.js';

/** The columns of `dossiers` a record fills, in reduceBatch's names. */
export const dossierColumns = [
  'province_code',
  'dossier_code',
  'alt_dossier_code',
  'source_province_code',
  'source_code_set',
  'procedure_code',
  'sector_code',
  'agency_code',
  'channel',
  'applicant_type',
  'status',
  'source_status',
  'submitted_at',
  'received_at',
  'due_at',
  'finished_at',
  'returned_at',
  'rejected_at',
  'source_updated_at',
  'source_version',
  'content_hash',
  'observed_at',
  'connector_id',
] as const;

/** One value in COPY's text format: \N for null, and the characters the format reserves escaped. */
export function copyText(value: unknown): string {
  if (value === null || value === undefined) return '\\N';
  return String(value).replace(/[\\\t\n\r]/g, (c) =>
    c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r',
  );
}

/** Creates the twin (`dossiers_copy_twin`) in the database `config` names, partitioned as `dossiers` is. */
async function createTwin(databaseUrl: string): Promise<void> {
  const db = createDatabase(databaseUrl, { maxConnections: 1 });
  try {
    await sql`CREATE TABLE dossiers_copy_twin (LIKE dossiers INCLUDING ALL) PARTITION BY LIST (province_code)`.execute(
      db,
    );
    for (const { code } of currentProvinces)
      await sql`CREATE TABLE ${sql.table(`dossiers_copy_twin_p${code}`)} PARTITION OF dossiers_copy_twin FOR VALUES IN (${sql.lit(code)})`.execute(
        db,
      );
  } finally {
    await db.destroy();
  }
}

/** What the COPY phase measured. */
export interface CopyFigures {
  rows: number;
  seconds: number;
  rowsPerSecond: number;
}

/**
 * COPYs `records` into the twin on one connection, in one COPY statement, and returns rows/s. The clock runs from
 * the first row formatted to the COPY's end (the content hash is computed before, as a connector's batch would
 * carry it).
 */
export async function copyPhase(config: Config, records: readonly DossierRecord[]): Promise<CopyFigures> {
  await createTwin(config.DATABASE_URL);
  const rows = reduceBatch(records);
  const client = new pg.Client({ connectionString: config.DATABASE_URL });
  await client.connect();
  try {
    const started = performance.now();
    function* lines(): Generator<string> {
      // Chunks of 1,000 lines: one stream write per row would measure the stream, not COPY.
      for (let i = 0; i < rows.length; i += 1000) {
        let chunk = '';
        for (const row of rows.slice(i, i + 1000))
          chunk += `${dossierColumns.map((column) => copyText(row[column])).join('\t')}\n`;
        yield chunk;
      }
    }
    await pipeline(
      Readable.from(lines()),
      client.query(copyFrom(`COPY dossiers_copy_twin (${dossierColumns.join(', ')}) FROM STDIN`)),
    );
    const seconds = (performance.now() - started) / 1000;
    const { rows: counted } = await client.query<{ count: string }>('SELECT count(*) FROM dossiers_copy_twin');
    const count = counted[0]?.count;
    if (Number(count) !== rows.length)
      throw new Error(`bench: the COPY stored ${count} rows of ${rows.length}; expected all of them`);
    return { rows: rows.length, seconds, rowsPerSecond: rows.length / seconds };
  } finally {
    await client.end();
  }
}
