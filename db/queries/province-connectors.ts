import type { Kysely } from 'kysely';
import { currentProvinceCode, type CodeSet } from '../../config/provinces.js';
import type { Database } from '../schema.js';

/** A connector as the statistics see it: whose province it is, and when it last synced. */
export interface ProvinceConnector {
  id: string;
  /** The current (2025) province, whatever code set the connector's definition uses. */
  provinceCode: string;
  state: 'active' | 'paused' | 'removed';
  /** The last successful poll run. */
  lastSuccessAt: Date | null;
  /** When the writer last committed pushed updates of it. */
  pushLastCommittedAt: Date | null;
}

/**
 * Every registered connector, removed ones too (their dead letters and lag stay their province's), by current
 * province: a connector defined with a 2008 code belongs to that code's successor.
 */
export async function connectorsByProvince(db: Kysely<Database>): Promise<Map<string, ProvinceConnector[]>> {
  const rows = await db
    .selectFrom('connectors as c')
    .leftJoin('connector_activity as a', 'a.connector_id', 'c.id')
    .select(['c.id', 'c.province_code', 'c.code_set', 'c.state', 'c.last_success_at', 'a.push_last_committed_at'])
    .orderBy('c.id')
    .execute();
  const byProvince = new Map<string, ProvinceConnector[]>();
  for (const row of rows) {
    const provinceCode = currentProvinceCode(row.province_code, row.code_set as CodeSet);
    const connectors = byProvince.get(provinceCode) ?? [];
    connectors.push({
      id: row.id,
      provinceCode,
      state: row.state,
      lastSuccessAt: row.last_success_at,
      pushLastCommittedAt: row.push_last_committed_at,
    });
    byProvince.set(provinceCode, connectors);
  }
  return byProvince;
}
