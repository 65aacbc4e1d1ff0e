import { codeSets, type CodeSet } from '../../config/provinces.js';
import { DatePattern, vietnamOffsetMinutes } from '../sdk/date-pattern.js';
import type { FieldSource } from '../sdk/connector.js';
import type { DossierRecordInput } from '../sdk/dossier-record.js';
import { englishStatusWords, statusCodes, vietnameseStatusLabels, type DossierStatus } from '../sdk/dossier-status.js';
import { MappingError } from '../sdk/mapping-error.js';
import { quoteSourceValue } from '../sdk/personal-data.js';
import { comparableText } from '../sdk/text.js';
import type { DeclarativeConfig } from './declarative-config.js';
import { readPath } from './json-path.js';

type FieldSpec = DeclarativeConfig['fields']['dossierCode'];
interface FieldRule {
  path?: string;
  constant?: string | number;
  format?: string;
  timezone?: string;
  trim: boolean;
  map?: Record<string, string | number>;
}
/**
 * A field's rule as the mapper applies it, prepared once: its date pattern compiled, its map keyed by comparable text.
 */
interface PreparedRule extends FieldRule {
  datePattern: DatePattern;
  /** Minutes east of UTC of a date written without an offset. */
  offsetMinutes: number;
  lookup?: ReadonlyMap<string, string | number>;
}

/** How many accepted values a `bad_value` message lists. */
const listedValues = 20;

/** Minutes east of UTC for a definition's timezone. */
export function offsetOf(timezone: string | undefined): number {
  if (timezone === undefined || timezone === 'Asia/Ho_Chi_Minh') return vietnamOffsetMinutes;
  if (timezone === 'UTC') return 0;
  const sign = timezone.startsWith('-') ? -1 : 1;
  return sign * (Number(timezone.slice(1, 3)) * 60 + Number(timezone.slice(4, 6)));
}

function rule(spec: FieldSpec | undefined): FieldRule | undefined {
  if (spec === undefined) return undefined;
  return typeof spec === 'string' ? { path: spec, trim: true } : spec;
}

/** Compiles a rule's date pattern (`defaults` when it names none) and keys its map by NFC, trimmed text. */
function prepare(spec: FieldRule, defaults: { pattern: DatePattern; timezone: string | undefined }): PreparedRule {
  const lookup = spec.map
    ? new Map(Object.entries(spec.map).map(([vendor, canonical]) => [comparableText(vendor), canonical]))
    : undefined;
  return {
    ...spec,
    datePattern: spec.format ? DatePattern.compile(spec.format) : defaults.pattern,
    offsetMinutes: offsetOf(spec.timezone ?? defaults.timezone),
    lookup,
  };
}

/** The vendor-status table: a preset vocabulary plus the definition's own map, compared as the definition says. */
function statusTable(statuses: DeclarativeConfig['statuses']): (value: unknown) => DossierStatus | undefined {
  const key = (value: string) => (statuses.ignoreCase ? comparableText(value).toLowerCase() : comparableText(value));
  const table = new Map<string, DossierStatus>();
  if (statuses.preset === 'national') for (const code of statusCodes) table.set(key(String(code)), code);
  if (statuses.preset === 'english')
    for (const [word, code] of Object.entries(englishStatusWords)) table.set(key(word), code);
  if (statuses.preset === 'vietnamese') for (const [label, code] of vietnameseStatusLabels) table.set(key(label), code);
  for (const [vendor, code] of Object.entries(statuses.map)) table.set(key(vendor), code as DossierStatus);
  return (value) =>
    typeof value === 'string' || typeof value === 'number' ? table.get(key(String(value))) : undefined;
}

/** Maps source records to the canonical form as a definition's `fields` and `statuses` say. */
export class RecordMapper {
  private readonly lookupStatus: (value: unknown) => DossierStatus | undefined;
  private readonly fields: Record<string, PreparedRule | undefined>;

  constructor(config: Pick<DeclarativeConfig, 'fields' | 'statuses' | 'incremental'>) {
    this.lookupStatus = statusTable(config.statuses);
    const rules: Record<string, FieldRule | undefined> = Object.fromEntries(
      Object.entries(config.fields).map(([name, spec]) => [name, rule(spec)]),
    );
    const updated =
      rules.sourceUpdatedAt ??
      (config.incremental
        ? {
            path: config.incremental.cursorField,
            format: config.incremental.cursorFormat,
            timezone: config.incremental.timezone,
            trim: true,
          }
        : undefined);
    rules.sourceUpdatedAt = updated;
    // Patterns are compiled here, once per definition, never per record.
    const defaults = {
      pattern: DatePattern.compile(config.incremental?.cursorFormat ?? 'iso'),
      timezone: config.incremental?.timezone,
    };
    this.fields = Object.fromEntries(
      Object.entries(rules).map(([name, spec]) => [name, spec && prepare(spec, defaults)]),
    );
  }

  /** The national code of a vendor status, as `map` reads it; undefined when the definition does not map it. */
  statusOf(value: unknown): DossierStatus | undefined {
    return this.lookupStatus(value);
  }

  /** The source path of every canonical field read from the record (constants have none). */
  mappedFields(): FieldSource[] {
    return Object.entries(this.fields).flatMap(([field, spec]) =>
      spec?.path !== undefined && spec.constant === undefined ? [{ field, path: spec.path }] : [],
    );
  }

  /** Maps one record; throws MappingError naming the source field. */
  map(item: unknown): DossierRecordInput {
    if (item === null || typeof item !== 'object' || Array.isArray(item)) {
      throw new MappingError(
        'malformed_record',
        `expected a JSON object for a dossier, got ${Array.isArray(item) ? 'an array' : item === null ? 'null' : typeof item}`,
      );
    }
    const dossierCode = this.text(item, 'dossierCode');
    if (!dossierCode)
      throw new MappingError('missing_field', `${this.label('dossierCode')}: expected the dossier code, got none`);
    try {
      return this.mapFields(item, dossierCode);
    } catch (error) {
      if (error instanceof MappingError) error.dossierCode = dossierCode;
      throw error;
    }
  }

  private mapFields(item: object, dossierCode: string): DossierRecordInput {
    const rawStatus = this.value(item, 'status');
    if (rawStatus === undefined || rawStatus === null || rawStatus === '')
      throw new MappingError('missing_field', `${this.label('status')}: expected the dossier's status, got none`);
    const status = this.lookupStatus(rawStatus);
    if (status === undefined) {
      throw new MappingError(
        'unknown_status',
        `${this.label('status')}: ${this.quote(rawStatus, 'status')} is not a status this definition maps; add it to statuses.map`,
      );
    }
    const sourceUpdatedAt = this.date(item, 'sourceUpdatedAt');
    if (!sourceUpdatedAt)
      throw new MappingError(
        'missing_field',
        `${this.label('sourceUpdatedAt')}: expected the time of the last change, got none`,
      );
    const codeSet = this.text(item, 'provinceCodeSet');
    if (codeSet !== null && !(codeSets as readonly string[]).includes(codeSet)) {
      throw new MappingError(
        'bad_value',
        `${this.label('provinceCodeSet')}: ${this.quote(codeSet, 'provinceCodeSet')} is not a code set; expected 2025 or 2008`,
      );
    }
    return {
      dossierCode,
      altDossierCode: this.text(item, 'altDossierCode'),
      provinceCode: this.text(item, 'provinceCode'),
      provinceCodeSet: codeSet as CodeSet | null,
      procedureCode: this.text(item, 'procedureCode'),
      sectorCode: this.text(item, 'sectorCode'),
      agencyCode: this.text(item, 'agencyCode'),
      channel: this.integer(item, 'channel'),
      applicantType: this.integer(item, 'applicantType'),
      status,
      sourceStatus: String(rawStatus),
      submittedAt: this.date(item, 'submittedAt'),
      receivedAt: this.date(item, 'receivedAt'),
      dueAt: this.date(item, 'dueAt'),
      finishedAt: this.date(item, 'finishedAt'),
      returnedAt: this.date(item, 'returnedAt'),
      rejectedAt: this.date(item, 'rejectedAt'),
      sourceUpdatedAt,
      sourceVersion: this.integer(item, 'sourceVersion') ?? sourceUpdatedAt.getTime(),
    };
  }

  /** The source's own name for a field, for messages a provincial IT team recognises. */
  private label(field: string): string {
    const spec = this.fields[field];
    return spec?.path ?? field;
  }

  /** A field's value as a message may show it: quoted only when read from a path that does not look personal. */
  private quote(value: unknown, field: string): string {
    return quoteSourceValue(value, this.fields[field]?.path);
  }

  /** The raw value of a field, after its `map` (vendor text compared in NFC and trimmed, as the map's keys). */
  private value(item: object, field: string): unknown {
    const spec = this.fields[field];
    if (!spec) return undefined;
    let value = spec.constant ?? readPath(item, spec.path!);
    if (typeof value === 'string' && spec.trim) value = value.trim();
    if (spec.lookup && value !== null && value !== undefined && value !== '') {
      const mapped = spec.lookup.get(comparableText(String(value)));
      if (mapped === undefined) {
        const accepted = [...spec.lookup.keys()];
        const listed =
          accepted
            .slice(0, listedValues)
            .map((key) => JSON.stringify(key))
            .join(', ') + (accepted.length > listedValues ? `, … (${accepted.length} in all)` : '');
        throw new MappingError(
          'bad_value',
          `${this.label(field)}: ${this.quote(value, field)} is not a value this definition maps; expected one of ${listed} (compared after trimming, in Unicode NFC)`,
        );
      }
      value = mapped;
    }
    return value;
  }

  private text(item: object, field: string): string | null {
    const value = this.value(item, field);
    if (value === null || value === undefined || value === '') return null;
    if (typeof value === 'string') return value;
    if (typeof value === 'number') return String(value);
    throw new MappingError('bad_value', `${this.label(field)}: expected text, got ${this.quote(value, field)}`);
  }

  private integer(item: object, field: string): number | null {
    const value = this.value(item, field);
    if (value === null || value === undefined || value === '') return null;
    const number = typeof value === 'string' && /^-?\d+$/.test(value) ? Number(value) : value;
    if (typeof number !== 'number' || !Number.isSafeInteger(number)) {
      throw new MappingError(
        'bad_value',
        `${this.label(field)}: expected a whole number, got ${this.quote(value, field)}`,
      );
    }
    return number;
  }

  private date(item: object, field: string): Date | null {
    const spec = this.fields[field];
    if (!spec) return null;
    return spec.datePattern.parse(this.value(item, field), this.label(field), spec.offsetMinutes);
  }
}
