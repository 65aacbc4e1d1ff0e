import type { DeadLetterReason } from '../../config/error-catalogue.js';
import { currentProvinceCode, resolveProvince, type CodeSet } from '../../config/provinces.js';
import type { Connector } from './connector.js';
import { dossierDateFields, type DossierRecord, type DossierRecordInput } from './dossier-record.js';
import { isDossierStatus } from './dossier-status.js';
import { MappingError } from './mapping-error.js';
import { MappedPaths } from './mapped-paths.js';
import { quoteSourceValue, redactPersonalData } from './personal-data.js';
import { escapeUnstorable, isStorableTime, storablePayload, unstorableCharacter } from './storable-text.js';
import { normaliseText } from './text.js';

/**
 * A source record the framework could not accept, kept with its reason and raw payload: the values of the fields
 * the connector maps, and only the shape of everything else (personal data never).
 */
export interface DeadLetter {
  connectorId: string;
  provinceCode: string;
  dossierCode: string | null;
  reason: DeadLetterReason;
  message: string;
  rawPayload: unknown;
  receivedAt: string;
}

/** Where a batch of source records came from. */
export interface MappingContext {
  connectorId: string;
  /** The connector's province, and the code set its code is in. */
  sourceProvinceCode: string;
  sourceCodeSet: CodeSet;
  /** When the records were fetched or received. */
  observedAt: Date;
}

/** The outcome of mapping one page or delivery: canonical records to store, dead letters to keep. */
export interface MappedBatch {
  records: DossierRecord[];
  deadLetters: DeadLetter[];
}

const maxCodeLength = 100;

/**
 * Runs every item through the connector's `map`, then normalises (province, NFC text, UTC dates) and
 * validates the result. Every item ends up either as a record or as a dead letter: none is dropped. The
 * connector's `mappedFields` say what a dead letter keeps and a message may quote (none: nothing).
 */
export function mapItems(
  connector: Pick<Connector, 'map'> & Partial<Pick<Connector, 'mappedFields'>>,
  items: readonly unknown[],
  mapping: MappingContext,
): MappedBatch {
  const records: DossierRecord[] = [];
  const deadLetters: DeadLetter[] = [];
  const observedAt = mapping.observedAt.toISOString();
  const mapped = MappedPaths.of(connector);
  for (const item of items) {
    try {
      records.push(normalise(connector.map(item), mapping, observedAt, mapped));
    } catch (error) {
      deadLetters.push(toDeadLetter(error, item, mapping, observedAt, mapped));
    }
  }
  return { records, deadLetters };
}

/**
 * The dead letter for an item that failed; an unexpected exception is kept as `malformed_record`. Its raw payload
 * keeps the values at the mapped paths only (`mapped`; default none). Whatever the source sent, the letter can be
 * stored: text Postgres refuses (NUL, an unpaired surrogate) in its dossier code or message is written as `\uXXXX`
 * escapes, and the raw payload — kept as JSON text, which escapes those characters itself — is made of values JSON
 * can write.
 */
export function toDeadLetter(
  error: unknown,
  item: unknown,
  mapping: MappingContext,
  receivedAt: string,
  mapped: MappedPaths = MappedPaths.none,
): DeadLetter {
  const refusal = error instanceof MappingError ? error : null;
  const dossierCode = refusal?.dossierCode ?? null;
  return {
    connectorId: mapping.connectorId,
    provinceCode: currentProvinceCode(mapping.sourceProvinceCode, mapping.sourceCodeSet),
    // A dossier code read from a personal-looking field (a definition's mistake) is not repeated on the letter.
    dossierCode: dossierCode === null || mapped.readsPersonalData('dossierCode') ? null : escapeUnstorable(dossierCode),
    reason: refusal?.reason ?? 'malformed_record',
    // A plugin's unexpected exception may quote the payload: keep only its type, never its text.
    message: escapeUnstorable(
      refusal
        ? refusal.message
        : `the connector could not map this record (${error instanceof Error ? error.name : typeof error})`,
    ),
    rawPayload: storablePayload(redactPersonalData(item, mapped)),
    receivedAt,
  };
}

/**
 * Refuses text Postgres cannot store in a mapped field, naming the field and the character: stripping or replacing
 * it would store another value than the source's (a dossier code with NUL removed may be another dossier's).
 */
function storable(value: string, field: string, dossierCode: string | null): string {
  const character = unstorableCharacter(value);
  if (character) {
    throw new MappingError(
      'bad_value',
      `${field}: contains ${character.description} at character ${character.position}, which cannot be stored; expected text without NUL characters or unpaired surrogates`,
      dossierCode,
    );
  }
  return value;
}

function text(value: unknown, field: string, dossierCode: string): string | null {
  if (value === null || value === undefined) return null;
  if (typeof value !== 'string')
    throw new MappingError('bad_value', `${field}: expected text, got a ${typeof value}`, dossierCode);
  const result = normaliseText(storable(value, field, dossierCode));
  if (result !== null && result.length > maxCodeLength) {
    throw new MappingError(
      'bad_value',
      `${field}: expected at most ${maxCodeLength} characters, got ${result.length}`,
      dossierCode,
    );
  }
  return result;
}

function smallCode(
  value: unknown,
  field: string,
  max: number,
  dossierCode: string,
  mapped: MappedPaths,
): number | null {
  if (value === null || value === undefined) return null;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > max) {
    throw new MappingError(
      'bad_value',
      `${field}: expected a whole number from 1 to ${max}, got ${quoteSourceValue(value, mapped.pathsOf(field))}`,
      dossierCode,
    );
  }
  return value;
}

function date(value: unknown, field: string, dossierCode: string): string | null {
  if (value === null || value === undefined) return null;
  if (!(value instanceof Date) || Number.isNaN(value.getTime())) {
    throw new MappingError('bad_date', `${field}: expected a valid date`, dossierCode);
  }
  if (!isStorableTime(value.getTime()))
    throw new MappingError(
      'bad_date',
      `${field}: ${value.toISOString()} is outside the years 0001 to 9999 that can be stored; expected a real date`,
      dossierCode,
    );
  return value.toISOString();
}

/**
 * Validates a connector's output and puts it in canonical form; throws MappingError naming the field. A message
 * quotes a value only for a field read from one of the connector's mapped paths (`mapped`; default none).
 */
export function normalise(
  input: DossierRecordInput,
  mapping: MappingContext,
  observedAt: string,
  mapped: MappedPaths = MappedPaths.none,
): DossierRecord {
  const rawCode = typeof input.dossierCode === 'string' ? input.dossierCode : null;
  const dossierCode = rawCode === null ? null : normaliseText(storable(rawCode, 'dossierCode', rawCode));
  if (!dossierCode)
    throw new MappingError('missing_field', 'dossierCode: expected the dossier code (MaHoSo), got none');
  if (dossierCode.length > maxCodeLength) {
    throw new MappingError(
      'bad_value',
      `dossierCode: expected at most ${maxCodeLength} characters, got ${dossierCode.length}`,
    );
  }

  const sourceCodeSet = input.provinceCodeSet ?? mapping.sourceCodeSet;
  const recordProvinceCode = text(input.provinceCode, 'provinceCode', dossierCode);
  const sourceProvinceCode = recordProvinceCode ?? mapping.sourceProvinceCode;
  const province = resolveProvince(sourceProvinceCode, sourceCodeSet);
  if (!province) {
    throw new MappingError(
      'bad_province',
      // The connector's own province code is ours to quote; a record's is the vendor's.
      `provinceCode: ${recordProvinceCode !== null ? quoteSourceValue(sourceProvinceCode, mapped.pathsOf('provinceCode')) : JSON.stringify(sourceProvinceCode)} is not a province code of the ${sourceCodeSet} code set`,
      dossierCode,
    );
  }

  if (!isDossierStatus(input.status)) {
    throw new MappingError(
      'unknown_status',
      `status: expected a national status code 1-10, got ${quoteSourceValue(input.status, mapped.pathsOf('status'))}`,
      dossierCode,
    );
  }
  if (!Number.isSafeInteger(input.sourceVersion) || input.sourceVersion < 0) {
    throw new MappingError(
      'bad_value',
      `sourceVersion: expected a non-negative whole number, got ${quoteSourceValue(input.sourceVersion, mapped.pathsOf('sourceVersion'))}`,
      dossierCode,
    );
  }
  const sourceUpdatedAt = date(input.sourceUpdatedAt, 'sourceUpdatedAt', dossierCode);
  if (!sourceUpdatedAt)
    throw new MappingError(
      'missing_field',
      'sourceUpdatedAt: expected the time of the last change, got none',
      dossierCode,
    );

  const record: DossierRecord = {
    provinceCode: province.code,
    dossierCode,
    altDossierCode: text(input.altDossierCode, 'altDossierCode', dossierCode),
    sourceProvinceCode,
    sourceCodeSet,
    procedureCode: text(input.procedureCode, 'procedureCode', dossierCode),
    sectorCode: text(input.sectorCode, 'sectorCode', dossierCode),
    agencyCode: text(input.agencyCode, 'agencyCode', dossierCode),
    channel: smallCode(input.channel, 'channel', 3, dossierCode, mapped),
    applicantType: smallCode(input.applicantType, 'applicantType', 4, dossierCode, mapped),
    status: input.status,
    sourceStatus: (
      normaliseText(storable(String(input.sourceStatus ?? input.status), 'sourceStatus', dossierCode)) ??
      String(input.status)
    ).slice(0, maxCodeLength),
    submittedAt: null,
    receivedAt: null,
    dueAt: null,
    finishedAt: null,
    returnedAt: null,
    rejectedAt: null,
    sourceUpdatedAt,
    sourceVersion: input.sourceVersion,
    observedAt,
    connectorId: mapping.connectorId,
  };
  for (const field of dossierDateFields) record[field] = date(input[field], field, dossierCode);
  return record;
}
