import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  escapeUnstorable,
  fromStorableJsonb,
  isStorableInstant,
  isStorableTime,
  isStorableText,
  storablePayload,
  toStorableJsonb,
  unstorableCharacter,
} from '../../../connectors/sdk/storable-text.js';
import { createTestEnvironment, type TestEnvironment } from '../../support/test-environment.js';

// What storable-text.ts says Postgres can store is checked against the real server: as a text parameter (where
// node-postgres would silently turn an unpaired surrogate into U+FFFD) and inside jsonb (where JSON escapes meet
// Postgres's own JSON parser).

let env: TestEnvironment;
beforeAll(async () => {
  env = await createTestEnvironment();
});
afterAll(async () => env?.cleanup());

/** Whether Postgres keeps `text` exactly, as a text value and as a string and a key of jsonb. */
async function postgresStores(text: string): Promise<boolean> {
  try {
    const { rows } = await sql<{ asText: string; inJsonb: string; keyJsonb: string }>`
      SELECT ${text}::text AS "asText", (${JSON.stringify([text])}::jsonb)->>0 AS "inJsonb",
             (SELECT k FROM jsonb_object_keys(${JSON.stringify({ [text]: 1 })}::jsonb) AS k) AS "keyJsonb"`.execute(
      env.db,
    );
    return rows[0]!.asText === text && rows[0]!.inJsonb === text && rows[0]!.keyJsonb === text;
  } catch (error) {
    if (!/^22/.test(String((error as { code?: unknown }).code))) throw error;
    return false;
  }
}

const unit = (code: number) => String.fromCharCode(code);
const edges = [
  0x00, 0x01, 0x09, 0x0a, 0x1f, 0x20, 0x7f, 0x80, 0x85, 0x9f, 0xa0, 0xad, 0x2028, 0xd7ff, 0xd800, 0xdbff, 0xdc00,
  0xdfff, 0xe000, 0xfdd0, 0xfeff, 0xfffd, 0xfffe, 0xffff,
];
/** Every edge code unit alone and inside text, the valid and broken surrogate pairs, and seeded random strings. */
function corpus(): string[] {
  const texts = [
    '',
    'Hồ sơ',
    'Nguyễn'.normalize('NFD'),
    '\uD83D\uDE00',
    '\uDBFF\uDFFF',
    '\uDE00\uD83D',
    '\uD83D\uD83D',
    'a\\u0000b',
  ];
  for (const code of edges) texts.push(unit(code), `a${unit(code)}b`, `${unit(code)}\uDC00`);
  let state = 2026;
  const random = () => (state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  for (let n = 0; n < 200; n++) {
    let text = '';
    const length = 1 + Math.floor(random() * 6);
    for (let i = 0; i < length; i++)
      text += random() < 0.5 ? unit(edges[Math.floor(random() * edges.length)]!) : unit(Math.floor(random() * 0x10000));
    texts.push(text);
  }
  return texts;
}

describe('isStorableText', () => {
  it('says exactly what Postgres stores, for every edge code unit and 200 random strings', async () => {
    const disagreements: string[] = [];
    for (const text of corpus()) {
      if (isStorableText(text) !== (await postgresStores(text))) disagreements.push(JSON.stringify(text));
    }
    expect(disagreements).toEqual([]);
  });

  it('names the first character Postgres cannot store, and its place', () => {
    expect(unstorableCharacter('ok')).toBeNull();
    expect(unstorableCharacter('ab\u0000c')).toEqual({ position: 3, description: 'U+0000 (NUL)' });
    expect(unstorableCharacter('\uD83D\uDE00x\uDC01')).toEqual({
      position: 4,
      description: 'an unpaired surrogate (U+DC01)',
    });
    expect(unstorableCharacter('x\uD800')).toEqual({ position: 2, description: 'an unpaired surrogate (U+D800)' });
  });
});

describe('escapeUnstorable', () => {
  it('gives text Postgres stores, writes each refused character as its \\u escape, and changes nothing else', async () => {
    for (const text of corpus()) {
      const escaped = escapeUnstorable(text);
      expect(await postgresStores(escaped), JSON.stringify(text)).toBe(true);
      expect(escapeUnstorable(escaped)).toBe(escaped);
      if (isStorableText(text)) expect(escaped).toBe(text);
    }
    expect(escapeUnstorable('MA\u0000HS\uD800-\uD83D\uDE00')).toBe('MA\\u0000HS\\uD800-\uD83D\uDE00');
  });
});

describe('toStorableJsonb', () => {
  it('stores any value in jsonb and gives back exactly the value that went in', async () => {
    const values: unknown[] = [
      { updatedSince: '20261127080000', afterCode: 'P\u0000' },
      { next: 'https://x/?after=\uD800', page: 3 },
      { ['k\u0000ey']: [1, 'a\uDC00', { deep: '\u0000' }] },
      { $jsonText: 'looks like the wrapper' },
      { updatedSince: '20261127080000', afterCode: null },
      ['\u0000'],
      'plain',
      null,
    ];
    for (const value of values) {
      const { rows } = await sql<{
        back: unknown;
      }>`SELECT ${JSON.stringify(toStorableJsonb(value))}::jsonb AS back`.execute(env.db);
      expect(fromStorableJsonb(rows[0]!.back)).toEqual(value);
    }
    // A value jsonb takes as it is stays as it is: the column stays queryable.
    expect(toStorableJsonb({ updatedSince: '20261127080000', afterCode: 'A-1' })).toEqual({
      updatedSince: '20261127080000',
      afterCode: 'A-1',
    });
  });
});

describe('storablePayload', () => {
  it('turns a payload of any shape into JSON text Postgres stores, keeping every string and key exact', async () => {
    const cyclic: Record<string, unknown> = { MaHoSo: 'C\u0000' };
    cyclic.self = cyclic;
    let deep: unknown = 'bottom';
    for (let i = 0; i < 200; i++) deep = { d: deep };
    const payloads: unknown[] = [
      { MaHoSo: 'A\u0000', ['Ten\u0000Key']: 'x\uD800y', list: ['\uDFFF', 1, null, true] },
      {
        big: 12345678901234567890n,
        when: new Date('2026-11-27T01:00:00Z'),
        bytes: Buffer.from('hi'),
        gone: undefined,
        fn: () => 1,
      },
      cyclic,
      deep,
      Object.defineProperty({}, '__proto__', { value: { polluted: true }, enumerable: true }),
      'just text \u0000',
      42,
    ];
    for (const payload of payloads) {
      const text = JSON.stringify(storablePayload(payload));
      const { rows } = await sql<{ back: string }>`SELECT ${text}::text AS back`.execute(env.db);
      expect(rows[0]!.back).toBe(text);
    }
    const first = JSON.parse(JSON.stringify(storablePayload(payloads[0]))) as Record<string, unknown>;
    expect(first).toEqual(payloads[0]);
    expect(JSON.parse(JSON.stringify(storablePayload(payloads[1])))).toEqual({
      big: '12345678901234567890',
      when: '2026-11-27T01:00:00.000Z',
      bytes: { type: 'Buffer', data: [104, 105] },
    });
    expect(JSON.parse(JSON.stringify(storablePayload(cyclic)))).toEqual({ MaHoSo: 'C\u0000', self: '[circular]' });
    expect(JSON.stringify(storablePayload(deep))).toContain('[too deep]');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('isStorableInstant and isStorableTime', () => {
  it('say which instants Postgres reads as timestamptz', async () => {
    const yearStart = (year: number) => new Date(0).setUTCFullYear(year, 0, 1);
    const instants = [
      yearStart(1),
      yearStart(1) - 1,
      yearStart(0),
      yearStart(-1),
      yearStart(10000),
      Date.UTC(9999, 11, 31, 23, 59, 59, 999),
      Date.UTC(2026, 10, 27),
      8.64e15,
      -8.64e15,
    ];
    const outcomes = new Set<boolean>();
    for (const instant of instants) {
      const iso = new Date(instant).toISOString();
      let stored: boolean;
      try {
        const { rows } = await sql<{ back: Date }>`SELECT ${iso}::timestamptz AS back`.execute(env.db);
        stored = rows[0]!.back.toISOString() === iso;
      } catch {
        stored = false;
      }
      expect(isStorableInstant(iso), iso).toBe(stored);
      expect(isStorableTime(instant), iso).toBe(stored);
      outcomes.add(stored);
    }
    expect(outcomes).toEqual(new Set([true, false]));
  });
});
