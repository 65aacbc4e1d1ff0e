// The records the COPY and the naive phases store: N dossiers in the canonical form a connector hands the queue
// (DossierRecord), spread evenly over the 34 current provinces like the end-to-end phase's simulator.

import { currentProvinces } from '../../../config/provinces.js';
import type { DossierRecord } from '../../../connectors/sdk/dossier-record.js';
import type { DossierStatus } from '../../../connectors/sdk/dossier-status.js';

/** `count` canonical records, round-robin over the 34 provinces, each a distinct dossier at version 1. */
export function canonicalRecords(count: number, connectorId = 'bench'): DossierRecord[] {
  const now = new Date().toISOString();
  return Array.from({ length: count }, (_, i) => {
    const province = currentProvinces[i % currentProvinces.length]!.code;
    const status = ((i % 10) + 1) as DossierStatus;
    return {
      provinceCode: province,
      dossierCode: `${province}.2026.${String(i).padStart(8, '0')}`,
      altDossierCode: null,
      sourceProvinceCode: province,
      sourceCodeSet: '2025',
      procedureCode: '2.000477',
      sectorCode: 'G09-TP',
      agencyCode: `000.00.01.H${province}`,
      channel: 2,
      applicantType: 1,
      status,
      sourceStatus: String(status),
      submittedAt: '2026-11-01T01:00:00.000Z',
      receivedAt: '2026-11-01T02:00:00.000Z',
      dueAt: '2026-11-15T10:00:00.000Z',
      finishedAt: null,
      returnedAt: null,
      rejectedAt: null,
      sourceUpdatedAt: now,
      sourceVersion: 1,
      observedAt: now,
      connectorId,
    };
  });
}
