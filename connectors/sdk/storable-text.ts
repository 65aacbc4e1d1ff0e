/**
 * What Postgres can store, and a readable form of what it cannot. A UTF8 database refuses NUL (U+0000) in text
 * (SQLSTATE 22021) and in json/jsonb, where JSON writes it `\u0000` (22P05); json/jsonb refuse an unpaired
 * surrogate too (22P02: JSON writes it `\udXXX`), and as a text parameter node-postgres silently turns one into
 * U+FFFD. Every other code point — controls, U+FFFE, U+FFFF, U+10FFFF, a BOM — is stored as it is.
 * `test/connectors/sdk/storable-text-agrees-with-postgres.test.ts` checks this against the real server.
 */

/** NUL, a high surrogate with no low one after it, or a low surrogate with no high one before it. */
// eslint-disable-next-line no-control-regex -- NUL is exactly what it looks for
const unstorablePattern = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** A character of a text that Postgres cannot store. */
export interface UnstorableCharacter {
  /** Position in the text, counted from 1 in UTF-16 code units (what JavaScript's `length` counts). */
  position: number;
  /** What it is, for a message: `U+0000 (NUL)`, `an unpaired surrogate (U+D800)`. */
  description: string;
}

const hex = (unit: number) => unit.toString(16).toUpperCase().padStart(4, '0');

/** True when Postgres stores `text` as it is, as text and inside json/jsonb. */
export function isStorableText(text: string): boolean {
  return !text.includes('\u0000') && text.isWellFormed();
}

/** The first character of `text` that Postgres cannot store, or null when there is none. */
export function unstorableCharacter(text: string): UnstorableCharacter | null {
  if (isStorableText(text)) return null;
  unstorablePattern.lastIndex = 0;
  const match = unstorablePattern.exec(text)!;
  const unit = match[0].charCodeAt(0);
  return {
    position: match.index + 1,
    description: unit === 0 ? 'U+0000 (NUL)' : `an unpaired surrogate (U+${hex(unit)})`,
  };
}

/**
 * `text` with each character Postgres cannot store written as its `\uXXXX` escape (NUL becomes the six
 * characters `\u0000`), so a person reads exactly what was sent. Text that can be stored is returned as it is, and
 * escaping twice changes nothing. For text read by people (a dead letter's dossier code and message); a raw
 * payload keeps its exact form as JSON text instead (`storablePayload`).
 */
export function escapeUnstorable(text: string): string {
  if (isStorableText(text)) return text;
  return text.replace(unstorablePattern, (character) => `\\u${hex(character.charCodeAt(0))}`);
}

/** Deeper than this, a payload's content is replaced by a marker (a cyclic or absurd structure). */
const maxPayloadDepth = 64;

/**
 * A copy of a payload of any shape that `JSON.stringify` writes without throwing: a bigint becomes its digits, a
 * cycle or a nesting deeper than 64 a marker string, an object with `toJSON` (Date, Buffer) its JSON form. Strings
 * and keys are kept exactly: JSON text writes NUL and unpaired surrogates as `\u` escapes, so a payload kept as
 * JSON text (not jsonb) is always storable and reads back as it was sent.
 */
export function storablePayload(value: unknown): unknown {
  return jsonSafe(value, new Set(), 0);
}

function jsonSafe(value: unknown, ancestors: Set<object>, depth: number): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (value === null || typeof value !== 'object') return value;
  if (depth > maxPayloadDepth) return '[too deep]';
  if (ancestors.has(value)) return '[circular]';
  const toJSON = (value as { toJSON?: unknown }).toJSON;
  if (typeof toJSON === 'function') return jsonSafe(toJSON.call(value), ancestors, depth + 1);
  ancestors.add(value);
  try {
    if (Array.isArray(value)) return value.map((item) => jsonSafe(item, ancestors, depth + 1));
    const copy: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) {
      // defineProperty: a "__proto__" key in a vendor payload stays a plain key, never a prototype.
      Object.defineProperty(copy, key, {
        value: jsonSafe(item, ancestors, depth + 1),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return copy;
  } finally {
    ancestors.delete(value);
  }
}

/** The one key of the wrapper `toStorableJsonb` puts around a value jsonb would refuse. */
const jsonTextKey = '$jsonText';

function holdsUnstorableText(value: unknown, depth = 0): boolean {
  if (typeof value === 'string') return !isStorableText(value);
  if (value === null || typeof value !== 'object' || depth > maxPayloadDepth) return false;
  if (Array.isArray(value)) return value.some((item) => holdsUnstorableText(item, depth + 1));
  return Object.entries(value).some(([key, item]) => !isStorableText(key) || holdsUnstorableText(item, depth + 1));
}

function isWrapper(value: unknown): value is { [jsonTextKey]: string } {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const keys = Object.keys(value);
  return (
    keys.length === 1 && keys[0] === jsonTextKey && typeof (value as Record<string, unknown>)[jsonTextKey] === 'string'
  );
}

/**
 * A JSON value for a jsonb column: the value itself, or — when a string or a key anywhere in it holds text jsonb
 * refuses — `{"$jsonText": "<its JSON text>"}`, whose string jsonb stores because JSON text writes those
 * characters as escapes. A value that looks like the wrapper is wrapped too, so `fromStorableJsonb` always gives
 * back exactly the value that went in. For values that must survive byte for byte, such as a cursor the source
 * is asked from again.
 */
export function toStorableJsonb(value: unknown): unknown {
  return holdsUnstorableText(value) || isWrapper(value) ? { [jsonTextKey]: JSON.stringify(value) } : value;
}

/** The value `toStorableJsonb` was given. */
export function fromStorableJsonb(value: unknown): unknown {
  return isWrapper(value) ? (JSON.parse(value[jsonTextKey]) as unknown) : value;
}

/**
 * True when Postgres reads this ISO 8601 instant as a timestamptz: years 0001 to 9999. JavaScript writes other
 * years with a sign and six digits (`+010000-01-01T…`, `-000001-…`), which Postgres refuses (22007, 22008, 22009).
 */
export function isStorableInstant(iso: string): boolean {
  return /^\d{4}-/.test(iso) && !iso.startsWith('0000-') && !Number.isNaN(Date.parse(iso));
}

/** 0001-01-01T00:00:00.000Z and 9999-12-31T23:59:59.999Z, in milliseconds since the epoch. */
const firstStorableMs = Date.parse('0001-01-01T00:00:00.000Z');
const lastStorableMs = Date.parse('9999-12-31T23:59:59.999Z');

/**
 * isStorableInstant for a valid Date's time, without writing and reading it again: the poller's hot path checks
 * every date of every record (the ISO form costs a Date.parse per date, 1.4 % of a poller's CPU in `fleet bench`).
 */
export function isStorableTime(ms: number): boolean {
  return ms >= firstStorableMs && ms <= lastStorableMs;
}
