import type { CodeSet } from '../../../config/provinces.js';
import type { Connector } from '../../../connectors/sdk/connector.js';
import type { DossierRecordInput } from '../../../connectors/sdk/dossier-record.js';
import type { MappingContext } from '../../../connectors/sdk/normalise.js';

/** The canonical fields, each read from the source key of the same name. */
const canonicalFields = [
  'dossierCode',
  'altDossierCode',
  'provinceCode',
  'provinceCodeSet',
  'procedureCode',
  'sectorCode',
  'agencyCode',
  'channel',
  'applicantType',
  'status',
  'sourceStatus',
  'submittedAt',
  'receivedAt',
  'dueAt',
  'finishedAt',
  'returnedAt',
  'rejectedAt',
  'sourceUpdatedAt',
  'sourceVersion',
];

/** A connector whose source already speaks the canonical form: `map` hands the item over as it is. */
export const passThrough: Pick<Connector, 'map' | 'mappedFields'> = {
  map: (item) => item as DossierRecordInput,
  mappedFields: () => canonicalFields.map((field) => ({ field, path: field })),
};

export const observedAt = new Date('2026-11-27T03:00:00Z');

export function origin(provinceCode = '79', codeSet: CodeSet = '2025'): MappingContext {
  return { connectorId: 'test-connector', sourceProvinceCode: provinceCode, sourceCodeSet: codeSet, observedAt };
}

/** A valid connector output; tests override what they are about. */
export function input(
  overrides: Partial<Record<keyof DossierRecordInput, unknown>> & Record<string, unknown> = {},
): DossierRecordInput {
  return {
    dossierCode: 'H56.2026.000001',
    procedureCode: '2.000477',
    sectorCode: 'G09-TP',
    agencyCode: '000.00.01.H56',
    channel: 2,
    applicantType: 1,
    status: 4,
    sourceStatus: '4',
    submittedAt: new Date('2026-11-20T01:30:00Z'),
    receivedAt: new Date('2026-11-20T02:00:00Z'),
    dueAt: new Date('2026-12-04T10:00:00Z'),
    sourceUpdatedAt: new Date('2026-11-27T01:00:00Z'),
    sourceVersion: 3,
    ...overrides,
  } as DossierRecordInput;
}
