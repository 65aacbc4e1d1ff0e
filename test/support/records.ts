import type { DossierRecord } from '../../connectors/sdk/dossier-record.js';
import type { DossierStatus } from '../../connectors/sdk/dossier-status.js';

/** A canonical record with plausible defaults; tests override what they are about. */
export function dossierRecord(overrides: Partial<DossierRecord> = {}): DossierRecord {
  return {
    provinceCode: '01',
    dossierCode: '01.2026.000001',
    altDossierCode: null,
    sourceProvinceCode: '01',
    sourceCodeSet: '2025',
    procedureCode: '2.000477',
    sectorCode: 'G09-TP',
    agencyCode: '000.00.01.H01',
    channel: 2,
    applicantType: 1,
    status: 2 as DossierStatus,
    sourceStatus: '2',
    submittedAt: '2026-11-01T01:00:00.000Z',
    receivedAt: '2026-11-01T02:00:00.000Z',
    dueAt: '2026-11-15T10:00:00.000Z',
    finishedAt: null,
    returnedAt: null,
    rejectedAt: null,
    sourceUpdatedAt: '2026-11-01T02:00:00.000Z',
    sourceVersion: 1,
    observedAt: '2026-11-27T00:00:00.000Z',
    connectorId: 'test',
    ...overrides,
  };
}

/** A deterministic shuffle (mulberry32), so a failing order can be replayed from its seed. */
export function shuffled<T>(items: readonly T[], seed: number): T[] {
  let state = seed >>> 0;
  const random = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy;
}
