import { sql } from 'kysely';
import type { Config } from '../../../config/env.js';
import type { DossierRecord } from '../../../connectors/sdk/dossier-record.js';
import type { DossierStatus } from '../../../connectors/sdk/dossier-status.js';
import { createDatabase } from '../../../db/database.js';
import { writeBatch } from '../../../workers/writer/write-batch.js';
import { createLogger } from '../../../workers/logger.js';
import { demoCommand } from './demo.js';
import { freshDatabase } from '../bench-support.js';

function syntheticRecords(count: number, version: number): DossierRecord[] {
  const now = new Date().toISOString();
  return Array.from({ length: count }, (_, i) => ({
    provinceCode: '79',
    dossierCode: `79.2026.${String(i).padStart(7, '0')}`,
    altDossierCode: null,
    sourceProvinceCode: '79',
    sourceCodeSet: '2025',
    procedureCode: '2.000477',
    sectorCode: 'G09-TP',
    agencyCode: '000.00.01.H79',
    channel: 2,
    applicantType: 1,
    status: (((i + version) % 10) + 1) as DossierStatus,
    sourceStatus: String(((i + version) % 10) + 1),
    submittedAt: '2026-11-01T01:00:00.000Z',
    receivedAt: '2026-11-01T02:00:00.000Z',
    dueAt: '2026-11-15T10:00:00.000Z',
    finishedAt: null,
    returnedAt: null,
    rejectedAt: null,
    sourceUpdatedAt: now,
    sourceVersion: version,
    observedAt: now,
    connectorId: 'bench',
  }));
}

/** Writes all records in batches of 1,000 on two connections (limits.md: two use both cores); returns records/s. */
async function writerPhase(config: Config, records: DossierRecord[]): Promise<number> {
  const db = createDatabase(config.DATABASE_URL, { maxConnections: 2 });
  const batches: DossierRecord[][] = [];
  for (let i = 0; i < records.length; i += 1000) batches.push(records.slice(i, i + 1000));
  const started = performance.now();
  const lane = async () => {
    for (let batch = batches.shift(); batch; batch = batches.shift()) {
      await writeBatch(db, {
        origin: 'poll',
        connectorId: 'bench',
        provinceCode: '79',
        records: batch,
        deadLetters: [],
      });
    }
  };
  await Promise.all([lane(), lane()]);
  const seconds = (performance.now() - started) / 1000;
  await db.destroy();
  return records.length / seconds;
}

/** The naive design limits.md warns against, for a baseline measured in the same run: one upsert per record. */
async function naivePhase(config: Config, records: DossierRecord[]): Promise<number> {
  const db = createDatabase(config.DATABASE_URL, { maxConnections: 1 });
  const started = performance.now();
  for (const record of records) {
    await sql`
      INSERT INTO dossiers (province_code, dossier_code, source_province_code, source_code_set, status, source_status,
        source_updated_at, source_version, content_hash, observed_at, connector_id)
      VALUES (${record.provinceCode}, ${`naive-${record.dossierCode}`}, ${record.sourceProvinceCode}, ${record.sourceCodeSet}, ${record.status},
        ${record.sourceStatus}, ${record.sourceUpdatedAt}, ${record.sourceVersion}, 'x', ${record.observedAt}, 'bench')
      ON CONFLICT (province_code, dossier_code) DO UPDATE SET status = excluded.status, source_version = excluded.source_version
      WHERE dossiers.source_version < excluded.source_version`.execute(db);
  }
  const seconds = (performance.now() - started) / 1000;
  await db.destroy();
  return records.length / seconds;
}

/** `fleet bench`: prints the figures the closing notes quote. */
export async function benchCommand(config: Config, options: { dossiers: number }): Promise<void> {
  const logger = createLogger('warn');
  console.log(
    `1. Demo sync: simulator (1 province, ${options.dossiers} dossiers, statuses moving) → poller → BullMQ → writer → Postgres`,
  );
  const demoConfig = { ...(await freshDatabase(config, 'bench')), HTTP_PORT: 0 };
  const { summary } = await demoCommand(
    demoConfig,
    { provinces: ['01'], dossiers: options.dossiers, seed: 7, exit: true, malformedRate: 0, progress: false },
    logger,
  );
  console.log(
    `   ${summary.dossiers} dossiers synced in ${summary.seconds.toFixed(1)} s = ${Math.round(summary.recordsPerSecond)} records/s end to end`,
  );
  console.log(
    `   writer: ${Math.round(summary.writerRecordsPerSecond)} records/s per connection (records / time inside write transactions)`,
  );

  console.log(
    `2. Writer alone: ${options.dossiers} records, batches of 1,000, 2 connections (upsert + history + guard in one transaction)`,
  );
  const writerConfig = { ...(await freshDatabase(config, 'bench_writer')), HTTP_PORT: 0 };
  const inserts = await writerPhase(writerConfig, syntheticRecords(options.dossiers, 1));
  const updates = await writerPhase(writerConfig, syntheticRecords(options.dossiers, 2));
  const stale = await writerPhase(writerConfig, syntheticRecords(options.dossiers, 1));
  const naive = await naivePhase(writerConfig, syntheticRecords(Math.min(10_000, options.dossiers), 1));
  console.log(
    `   inserts ${Math.round(inserts)} records/s · updates ${Math.round(updates)} records/s · stale (rejected) ${Math.round(stale)} records/s`,
  );
  console.log(
    `   baseline, one upsert statement per record (no history): ${Math.round(naive)} records/s → batched updates are ${(updates / naive).toFixed(1)}× faster`,
  );
}
