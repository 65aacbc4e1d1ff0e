// What the stored summary digest (migration 0019: a generated column and a wider update-time index) costs the
// writer's statement: `tsx scripts/tools/bench-writer-digest.ts [--dossiers 100000] [--rounds 3]`.
// Two fresh databases, one migrated to the latest schema and one with 0019 taken back (down), each written the
// same batches through upsertDossiers (1,000 records a batch, one at a time): the dossiers inserted, then all of
// them updated (a new version, some a new status). The two schemas alternate round by round, so that a load
// change on a shared machine falls on both. A markdown table on stdout.

import { parseArgs } from 'node:util';
import { loadConfig } from '../../config/env.js';
import type { DossierRecord } from '../../connectors/sdk/dossier-record.js';
import type { DossierStatus } from '../../connectors/sdk/dossier-status.js';
import { createDatabase } from '../../db/database.js';
import * as storedSummaryDigest from '../../db/migrations/0019-stored-summary-digest.js';
import { upsertDossiers } from '../../db/queries/upsert-dossiers.js';
import { dropDatabase, freshDatabase } from './bench-support.js';

const { values: args } = parseArgs({
  options: {
    dossiers: { type: 'string', default: '100000' },
    rounds: { type: 'string', default: '3' },
  },
});
const dossiers = Number(args.dossiers);
const rounds = Number(args.rounds);
const base = Date.parse('2026-11-01T00:00:00Z');

function record(index: number, version: number): DossierRecord {
  const status = ((index + version) % 2 === 0 ? 2 : 4) as DossierStatus;
  return {
    provinceCode: '79',
    dossierCode: `79.2026.${String(index).padStart(8, '0')}`,
    altDossierCode: null,
    sourceProvinceCode: '79',
    sourceCodeSet: '2025',
    procedureCode: '2.000477',
    sectorCode: 'G09-TP',
    agencyCode: '000.00.79.H01',
    channel: 2,
    applicantType: 1,
    status,
    sourceStatus: String(status),
    submittedAt: new Date(base + index * 1000).toISOString(),
    receivedAt: new Date(base + index * 1000).toISOString(),
    dueAt: null,
    finishedAt: null,
    returnedAt: null,
    rejectedAt: null,
    sourceUpdatedAt: new Date(base + index * 1000 + version * 60_000).toISOString(),
    sourceVersion: version,
    observedAt: new Date(base + version * 60_000).toISOString(),
    connectorId: 'bench',
  };
}

async function writeAll(url: string, version: number): Promise<number> {
  const db = createDatabase(url, { maxConnections: 1 });
  try {
    const started = performance.now();
    for (let start = 0; start < dossiers; start += 1000) {
      const batch: DossierRecord[] = [];
      for (let index = start; index < Math.min(start + 1000, dossiers); index++) batch.push(record(index, version));
      await upsertDossiers(db, batch);
    }
    return dossiers / ((performance.now() - started) / 1000);
  } finally {
    await db.destroy();
  }
}

const config = loadConfig();
const withDigest = await freshDatabase(config, 'writer_digest_with');
const without = await freshDatabase(config, 'writer_digest_without');
{
  const db = createDatabase(without.DATABASE_URL, { maxConnections: 1 });
  await storedSummaryDigest.down(db as never);
  await db.destroy();
}
const figures = {
  with: { insert: [] as number[], update: [] as number[] },
  without: { insert: [] as number[], update: [] as number[] },
};
try {
  for (let round = 0; round < rounds; round++) {
    // Round r inserts (version 1) on its first pass and updates (version r + 2) after; a fresh pair of tables
    // each round would cost a migration, so round r > 0 measures updates only and truncates for inserts.
    for (const [name, url] of (round % 2 === 0
      ? [
          ['with', withDigest.DATABASE_URL],
          ['without', without.DATABASE_URL],
        ]
      : [
          ['without', without.DATABASE_URL],
          ['with', withDigest.DATABASE_URL],
        ]) as ['with' | 'without', string][]) {
      const db = createDatabase(url, { maxConnections: 1 });
      await db.deleteFrom('dossier_events').execute();
      await db.deleteFrom('dossiers').execute();
      await db.deleteFrom('dossier_anomalies').execute();
      await db.destroy();
      const insert = await writeAll(url, 1);
      const update = await writeAll(url, 2);
      figures[name].insert.push(insert);
      figures[name].update.push(update);
      process.stderr.write(
        `round ${round + 1} ${name} digest: ${insert.toFixed(0)} inserts/s, ${update.toFixed(0)} updates/s\n`,
      );
    }
  }
} finally {
  await dropDatabase(withDigest.DATABASE_URL);
  await dropDatabase(without.DATABASE_URL);
}
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
process.stdout.write(
  `\n${dossiers.toLocaleString('en')} dossiers, batches of 1,000 through upsertDossiers, median of ${rounds} rounds\n\n| schema | inserts/s | updates/s |\n| --- | --- | --- |\n`,
);
for (const name of ['without', 'with'] as const)
  process.stdout.write(
    `| ${name === 'with' ? 'with 0019 (stored digest)' : 'without 0019'} | ${median(figures[name].insert).toFixed(0)} | ${median(figures[name].update).toFixed(0)} |\n`,
  );
const change = (key: 'insert' | 'update') =>
  ((median(figures.with[key]) / median(figures.without[key]) - 1) * 100).toFixed(1);
process.stdout.write(`\nwith the stored digest: inserts ${change('insert')}%, updates ${change('update')}%\n`);
