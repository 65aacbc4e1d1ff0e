/**
 * A JSON body that cannot be accepted. The message says where (a path such as `$[3].MaHoSo`, or a character
 * position) and what is expected; it never quotes the body, which may hold personal data.
 */
export class JsonBodyError extends Error {
  override readonly name = 'JsonBodyError';
}

import { isPrototypeKey } from './prototype-keys.js';

interface Frame {
  /** The keys seen so far: an object; null: an array. */
  keys: Set<string> | null;
  /** The last key (objects) or the current index (arrays), for the path in messages. */
  key: string;
  index: number;
}

type State = 'value' | 'firstValue' | 'key' | 'firstKey' | 'colon' | 'after';

const whitespace = (code: number) => code === 0x20 || code === 0x0a || code === 0x0d || code === 0x09;
const isDigit = (code: number) => code >= 0x30 && code <= 0x39;

function pathOf(stack: readonly Frame[]): string {
  let path = '$';
  for (const frame of stack) {
    if (path.length > 100) return `${path}… (depth ${stack.length})`;
    if (frame.keys === null) path += `[${frame.index}]`;
    else if (frame.key !== '')
      path += /^[A-Za-z_$][\w$]{0,63}$/.test(frame.key)
        ? `.${frame.key}`
        : `[${JSON.stringify(frame.key.slice(0, 64))}]`;
  }
  return path;
}

function shownKey(key: string): string {
  return JSON.stringify(key.length > 64 ? `${key.slice(0, 61)}...` : key);
}

/** A parsed body. */
export interface ParsedJson {
  value: unknown;
  /**
   * Whether some object in it has a key `__proto__`, `constructor` or `prototype` (however escaped). JSON.parse
   * makes such a key a plain own property — it never sets a prototype — but the value must not reach code that
   * copies keys by assignment; the caller decides what becomes of the updates holding one (`findPrototypeKey`).
   */
  hasPrototypeKeys: boolean;
}

/**
 * Parses a webhook body as strict JSON (RFC 8259) and refuses, with a message naming the place:
 * a duplicate key in an object (`{"a":1,"a":2}`: which one did the sender mean?), nesting deeper than
 * `maxDepth`, and anything after the value. Keys JavaScript gives a meaning to are valid JSON: they are reported
 * (`hasPrototypeKeys`), not refused.
 *
 * The text is first checked by an iterative scanner — no recursion, so a body of 10,000 nested brackets costs a
 * loop, never the stack — and only then built by the engine's JSON.parse, whose own error messages quote the
 * body and are never shown.
 */
export function parseStrictJson(text: string, maxDepth: number): ParsedJson {
  const hasPrototypeKeys = scan(text, maxDepth);
  try {
    return { value: JSON.parse(text) as unknown, hasPrototypeKeys };
  } catch {
    // Unreachable when the scanner is right; never echo the engine's message (it quotes the body).
    throw new JsonBodyError('the body is not valid JSON');
  }
}

/** Thrown by the scanning helpers with the position of the problem; `scan` adds the path. */
class ScanError extends Error {
  override readonly name = 'ScanError';
  constructor(
    readonly what: string,
    readonly at: number,
  ) {
    super(`${what} at character ${at + 1}`);
  }
}

const hex = (code: number) =>
  (code >= 0x30 && code <= 0x39) || (code >= 0x41 && code <= 0x46) || (code >= 0x61 && code <= 0x66);

/** The end (exclusive) of the string whose opening quote is at `start`, its escapes checked. */
function endOfString(text: string, start: number): number {
  const length = text.length;
  let j = start + 1;
  for (;;) {
    if (j >= length) throw new ScanError('a string that is never closed', start);
    const code = text.charCodeAt(j);
    if (code === 0x22) return j + 1;
    if (code === 0x5c) {
      const next = text.charCodeAt(j + 1);
      if (next === 0x75) {
        if (!(
          hex(text.charCodeAt(j + 2)) &&
          hex(text.charCodeAt(j + 3)) &&
          hex(text.charCodeAt(j + 4)) &&
          hex(text.charCodeAt(j + 5))
        )) {
          throw new ScanError('an escape \\u not followed by four hexadecimal digits', j);
        }
        j += 6;
      } else if (
        next === 0x22 ||
        next === 0x5c ||
        next === 0x2f ||
        next === 0x62 ||
        next === 0x66 ||
        next === 0x6e ||
        next === 0x72 ||
        next === 0x74
      ) {
        j += 2;
      } else {
        throw new ScanError('an unknown escape in a string', j);
      }
    } else if (code < 0x20) {
      throw new ScanError('a control character inside a string (it must be escaped)', j);
    } else {
      j += 1;
    }
  }
}

/** The end (exclusive) of the number starting at `start`. */
function endOfNumber(text: string, start: number): number {
  let j = start;
  if (text.charCodeAt(j) === 0x2d) j++;
  const first = text.charCodeAt(j);
  if (first === 0x30) j++;
  else if (first > 0x30 && first <= 0x39) while (isDigit(text.charCodeAt(j))) j++;
  else throw new ScanError('a malformed number', start);
  if (text.charCodeAt(j) === 0x2e) {
    j++;
    if (!isDigit(text.charCodeAt(j))) throw new ScanError('a malformed number', start);
    while (isDigit(text.charCodeAt(j))) j++;
  }
  const e = text.charCodeAt(j);
  if (e === 0x65 || e === 0x45) {
    j++;
    const sign = text.charCodeAt(j);
    if (sign === 0x2b || sign === 0x2d) j++;
    if (!isDigit(text.charCodeAt(j))) throw new ScanError('a malformed number', start);
    while (isDigit(text.charCodeAt(j))) j++;
  }
  return j;
}

/** The end of the literal `word` at `start`, or -1 when it is not there. */
function endOfLiteral(text: string, start: number, word: string): number {
  for (let k = 0; k < word.length; k++) if (text.charCodeAt(start + k) !== word.charCodeAt(k)) return -1;
  return start + word.length;
}

/** Checks the text; returns whether it holds a prototype key. */
function scan(text: string, maxDepth: number): boolean {
  const stack: Frame[] = [];
  try {
    return scanInto(text, maxDepth, stack);
  } catch (error) {
    if (error instanceof ScanError)
      throw new JsonBodyError(
        `the body is not valid JSON: ${error.what} at ${pathOf(stack)} (character ${error.at + 1})`,
      );
    throw error;
  }
}

function scanInto(text: string, maxDepth: number, stack: Frame[]): boolean {
  const length = text.length;
  let state: State = 'value';
  let i = 0;
  let prototypeKeys = false;
  const push = (keys: Set<string> | null) => {
    if (stack.length >= maxDepth) throw new ScanError(`nesting deeper than ${maxDepth} levels`, i);
    stack.push({ keys, key: '', index: 0 });
  };

  while (i < length) {
    const code = text.charCodeAt(i);
    if (whitespace(code)) {
      i++;
      continue;
    }
    switch (state) {
      case 'value':
      case 'firstValue': {
        if (state === 'firstValue' && code === 0x5d) {
          stack.pop();
          state = 'after';
          i++;
        } else if (code === 0x7b) {
          push(new Set());
          state = 'firstKey';
          i++;
        } else if (code === 0x5b) {
          push(null);
          state = 'firstValue';
          i++;
        } else if (code === 0x22) {
          i = endOfString(text, i);
          state = 'after';
        } else if (code === 0x2d || isDigit(code)) {
          i = endOfNumber(text, i);
          state = 'after';
        } else {
          const end =
            code === 0x74
              ? endOfLiteral(text, i, 'true')
              : code === 0x66
                ? endOfLiteral(text, i, 'false')
                : code === 0x6e
                  ? endOfLiteral(text, i, 'null')
                  : -1;
          if (end < 0)
            throw new ScanError('expected a value (an object, array, string, number, true, false or null)', i);
          i = end;
          state = 'after';
        }
        break;
      }
      case 'key':
      case 'firstKey': {
        if (state === 'firstKey' && code === 0x7d) {
          stack.pop();
          state = 'after';
          i++;
          break;
        }
        if (code !== 0x22) throw new ScanError('expected a key in double quotes', i);
        const end = endOfString(text, i);
        const raw = text.slice(i + 1, end - 1);
        const key = raw.includes('\\') ? (JSON.parse(text.slice(i, end)) as string) : raw;
        const frame = stack[stack.length - 1]!;
        if (isPrototypeKey(key)) prototypeKeys = true;
        if (frame.keys!.has(key))
          throw new ScanError(
            `the key ${shownKey(key)} a second time in one object (duplicate keys are refused: which value was meant?)`,
            i,
          );
        frame.keys!.add(key);
        frame.key = key;
        i = end;
        state = 'colon';
        break;
      }
      case 'colon':
        if (code !== 0x3a) throw new ScanError('expected ":" after a key', i);
        i++;
        state = 'value';
        break;
      case 'after': {
        const frame = stack[stack.length - 1];
        if (!frame) throw new ScanError('more content after the JSON value', i);
        if (code === 0x2c) {
          if (frame.keys === null) frame.index++;
          state = frame.keys === null ? 'value' : 'key';
          i++;
        } else if (code === 0x7d && frame.keys !== null) {
          stack.pop();
          i++;
        } else if (code === 0x5d && frame.keys === null) {
          stack.pop();
          i++;
        } else {
          throw new ScanError(frame.keys === null ? 'expected "," or "]"' : 'expected "," or "}"', i);
        }
        break;
      }
    }
  }
  if (state !== 'after' || stack.length > 0) {
    if (stack.length === 0 && state === 'value')
      throw new JsonBodyError('the body is empty; expected one update (a JSON object) or a list of them');
    throw new ScanError('the body ends before the JSON value does', i);
  }
  return prototypeKeys;
}
