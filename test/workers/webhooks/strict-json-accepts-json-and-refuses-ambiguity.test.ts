import { expect, it } from 'vitest';
import { JsonBodyError, parseStrictJson } from '../../../workers/webhooks/strict-json.js';
import { shuffled } from '../../support/records.js';

// The webhook body parser accepts every JSON document JSON.parse does (within the depth limit), and refuses —
// with a message naming the place, never quoting the body — what is ambiguous or hostile.

const valid = [
  '{}',
  '[]',
  ' \n\t{ "a" : [ 1 , -2.5e+3 , 0 , 0.1 , 1E5 , true , false , null , "x" ] } \r\n',
  '"just a string"',
  '12',
  '{"MaHoSo":"01.2026.000001","TrangThaiHoSo":"4","nested":{"a":{"b":{"c":[{"d":[]}]}}}}',
  '{"escapes":"\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u00e9 \\ud83d\\ude00","Hồ sơ":"Đã tiếp nhận"}',
  '[{"a":1},{"a":1}]',
  '{"a":{"x":1},"b":{"x":1}}',
  '{"":1}',
];

it('parses valid JSON exactly as JSON.parse does', () => {
  for (const text of valid)
    expect(parseStrictJson(text, 64)).toEqual({ value: JSON.parse(text), hasPrototypeKeys: false });
});

it('parses random documents exactly as JSON.parse does', () => {
  let seed = 7;
  const random = () => shuffled([0, 1, 2, 3, 4, 5, 6, 7, 8, 9], seed++)[0]!;
  const value = (depth: number): unknown => {
    const pick = depth > 5 ? random() % 5 : random();
    switch (pick) {
      case 0:
        return null;
      case 1:
        return random() > 4;
      case 2:
        return (random() - 5) * 1234.5e-3 * 10 ** random();
      case 3:
        return `t${random()}\u1ea1"\\\n${String.fromCharCode(1 + random())}`;
      case 4:
        return random() * 1e21;
      case 5:
      case 6:
        return Array.from({ length: random() }, () => value(depth + 1));
      default:
        return Object.fromEntries(Array.from({ length: random() }, (_, i) => [`k${i}-${random()}`, value(depth + 1)]));
    }
  };
  for (let i = 0; i < 300; i++) {
    const text = JSON.stringify(value(0), null, i % 3 === 0 ? 2 : undefined);
    expect(parseStrictJson(text, 64)).toEqual({ value: JSON.parse(text), hasPrototypeKeys: false });
  }
});

it('accepts keys JavaScript gives a meaning to, as plain own keys, and reports them — however they are written', () => {
  const bodies = [
    '{"__proto__":{"polluted":true}}',
    '{"x":[{"__proto__":{}}]}',
    '{"constructor":{"prototype":{"polluted":true}}}',
    '[1,{"a":{"b":[{"prototype":null}]}}]',
    '{"\\u005f_proto__":{"polluted":true}}',
    '{"\\u0063onstructor":1}',
  ];
  for (const text of bodies) {
    const parsed = parseStrictJson(text, 64);
    expect(parsed.hasPrototypeKeys).toBe(true);
    expect(JSON.stringify(parsed.value)).toBe(JSON.stringify(JSON.parse(text)));
  }
  const proto = parseStrictJson('{"__proto__":{"polluted":true},"a":1}', 64).value as Record<string, unknown>;
  expect(Object.getPrototypeOf(proto)).toBe(Object.prototype);
  expect(Object.keys(proto)).toEqual(['__proto__', 'a']);
  expect(Object.getOwnPropertyDescriptor(proto, '__proto__')?.value).toEqual({ polluted: true });
  expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  // Near misses are ordinary keys.
  expect(parseStrictJson('{"__proto":1,"Constructor":2,"prototypes":3,"_proto_":4}', 64).hasPrototypeKeys).toBe(false);
  // A duplicate prototype key is still a duplicate.
  expect(() => parseStrictJson('{"__proto__":1,"__proto__":2}', 64)).toThrow(/the key "__proto__" a second time/);
});

const refused: [string, string, RegExp][] = [
  [
    'a duplicate key',
    '{"a":1,"b":{"c":1,"c":2}}',
    /the key "c" a second time in one object .* at \$\.b\.c \(character 19\)/,
  ],
  ['a duplicate key hidden by an escape', '{"ab":1,"a\\u0062":2}', /the key "ab" a second time/],
  ['nesting deeper than the limit', `${'['.repeat(65)}${']'.repeat(65)}`, /nesting deeper than 64 levels/],
  ['an empty body', '   ', /^the body is empty; expected one update/],
  ['a trailing comma', '{"a":1,}', /expected a key in double quotes/],
  ['single quotes', "{'a':1}", /expected a key in double quotes/],
  ['a leading zero', '{"a":01}', /expected "," or "}"/],
  ['NaN', '[NaN]', /expected a value/],
  ['a bad escape', '["\\x41"]', /an unknown escape in a string/],
  ['a short unicode escape', '["\\u12"]', /an escape \\u not followed by four hexadecimal digits/],
  ['a raw newline in a string', '["a\nb"]', /a control character inside a string/],
  ['an unclosed string', '{"a":"b', /a string that is never closed/],
  ['an unclosed object', '{"a":1', /the body ends before the JSON value does/],
  ['two documents', '{} {}', /more content after the JSON value/],
  ['a lone minus', '[-]', /a malformed number/],
  ['a fraction without digits', '[1.]', /a malformed number/],
  ['an exponent without digits', '[1e]', /a malformed number/],
];

it.each(refused)('refuses %s with a message that names the place and never quotes values', (_name, text, message) => {
  let caught: unknown;
  try {
    parseStrictJson(text, 64);
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(JsonBodyError);
  expect((caught as Error).message).toMatch(message);
});

it('refuses a million nested brackets without exhausting the stack', () => {
  expect(() => parseStrictJson('['.repeat(1_000_000), 64)).toThrow(JsonBodyError);
  expect(() => parseStrictJson(`${'{"a":'.repeat(500_000)}1${'}'.repeat(500_000)}`, 1_000_000)).not.toThrow();
});
