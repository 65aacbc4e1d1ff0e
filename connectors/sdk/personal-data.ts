import type { MappedPaths, PathNode } from './mapped-paths.js';

/**
 * Field names that carry personal data in vendor payloads (shared/domain.md, "Personal data"): the applicant's,
 * and an official's (NguoiXuLy, CanBoXuLy). Matched case-insensitively against a key with its separators removed.
 * A second fence only: a dead letter keeps values by allow-list (`redactPersonalData`), and this list keeps even
 * a mapped field out when its name looks personal (a definition that maps one by mistake).
 */
const personalKeyPatterns = [
  // names
  /^chuhoso/,
  /^ho(va)?ten/,
  /^ten(nguoi|congdan|chuhoso|canbo|cd|chs)/,
  /^nguoi/,
  /^canbo/,
  /(^|full|first|last|middle|given|family|display|sur|applicant|owner|citizen|person|contact|customer|sender|receiver|user)name$/,
  // identity documents
  /^sogiayto/,
  /^(ma|so)?dinhdanh(?!hoso)/,
  /^(so)?(cmnd|cccd|cmt)/,
  /^(so)?hochieu/,
  /passport/,
  /^identity/,
  /^(citizen|personal|national)(id|number|no|card)$/,
  /^id(number|card|no)$/,
  /^(ma)?sothue/,
  // phones
  /^(so)?(dien)?thoai/,
  /^sdt/,
  /^(so)?didong/,
  /phone/,
  /mobile/,
  /^tel(ephone)?$/,
  /^fax/,
  /^zalo/,
  // e-mail
  /mail/,
  /^thudientu/,
  // addresses
  /^diachi/,
  /^address/,
  /^street/,
  /^noi(cutru|o|sinh|thuongtru|tamtru)/,
  /^quequan/,
  // birth, gender, and the rest of Decree 13's list
  /^ngaysinh/,
  /^namsinh/,
  /birth/,
  /^dob$/,
  /^gioitinh/,
  /^gender$/,
  /^sex$/,
  /^dantoc/,
  /^tongiao/,
  /^quoctich/,
  /^(so)?taikhoan/,
  /^applicant$|^applicant(name|id|phone|address|email|birth)/,
];

/** True when a key names personal data, however it is cased, separated or accented (HoTen, ho_ten, Họ và tên). */
export function isPersonalKey(key: string): boolean {
  const bare = key
    .normalize('NFD')
    .replace(/\p{M}/gu, '')
    .replace(/[đĐ]/g, 'd')
    .replace(/[\s_.-]/g, '')
    .toLowerCase();
  return personalKeyPatterns.some((pattern) => pattern.test(bare));
}

/** True when the own (last) key of a dot-separated source path names personal data (`applicant.fullName`). */
export function isPersonalPath(path: string): boolean {
  return isPersonalKey(path.slice(path.lastIndexOf('.') + 1));
}

/** How deep a kept payload shows its shape; deeper containers are only counted. */
const maxDepth = 64;
/** How many values and keys a kept payload shows in all, besides its mapped ones (a bound on a huge record). */
const maxEntries = 10_000;
/** A key kept as it is: a field name (ASCII letters, digits, `_`, `$`, `-`, `:`), not data used as a key. */
const fieldNamePattern = /^[@#]?[A-Za-z_$][A-Za-z0-9_$:-]{0,63}$/;

const plural = (count: number, one: string, many = `${one}s`) => `${count} ${count === 1 ? one : many}`;
/** Characters (code points, so an emoji counts once) in words, without copying a text that may be huge. */
const characters = (text: string) =>
  plural(text.length - (text.match(/[\uD800-\uDBFF][\uDC00-\uDFFF]/g)?.length ?? 0), 'character');

/** The marker that replaces a value that is not kept: its type, and for text its length. */
function marker(value: unknown): unknown {
  if (value === null || value === undefined || value === '') return value;
  if (typeof value === 'string') return `[text: ${characters(value)}]`;
  if (value instanceof Date) return '[date]';
  return `[${typeof value}]`;
}

function defineKey(target: Record<string, unknown>, key: string, value: unknown): void {
  // defineProperty: a "__proto__" key in a vendor payload stays a plain key, never a prototype.
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

/**
 * A copy of a raw payload safe to keep in a dead letter, whatever its shape (object, list, text, number…): the
 * values at the connector's mapped paths are kept (scalars only, and not under a personal-looking key), every other
 * value is replaced by a marker of its shape — `[text: 12 characters]`, `[number]`, `[boolean]`, `[personal data]`
 * — and keys that are data rather than field names by `[key 1]`, `[key 2]`… Lists and objects keep their shape
 * to 64 levels and 10,000 entries; the rest is counted. Replay re-maps the mapped values kept.
 */
export function redactPersonalData(payload: unknown, mapped: MappedPaths): unknown {
  const budget = { left: maxEntries };
  return redactValue(payload, mapped.root, 0, budget);
}

function redactValue(value: unknown, node: PathNode | undefined, depth: number, budget: { left: number }): unknown {
  // A Date only comes from a code plugin's own parsing: a value like text, kept as JSON writes it.
  if (value === null || typeof value !== 'object' || value instanceof Date) {
    const scalar =
      typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean' || value instanceof Date;
    return node?.kept && scalar ? value : marker(value);
  }
  if (depth >= maxDepth) {
    return Array.isArray(value)
      ? `[list of ${plural(value.length, 'item')}, too deep to show]`
      : `[object of ${plural(Object.keys(value).length, 'key')}, too deep to show]`;
  }
  if (Array.isArray(value)) {
    const copy: unknown[] = [];
    for (let index = 0; index < value.length; index += 1) {
      if (budget.left <= 0 && index > (node?.lastIndex ?? -1)) {
        copy.push(`[… ${plural(value.length - index, 'more item')}]`);
        break;
      }
      budget.left -= 1;
      copy.push(redactValue(value[index], node?.children.get(String(index)), depth + 1, budget));
    }
    return copy;
  }
  const copy: Record<string, unknown> = {};
  let replacedKeys = 0;
  let omitted = 0;
  for (const [key, item] of Object.entries(value)) {
    const child = node?.children.get(key);
    if (!child && budget.left <= 0) {
      omitted += 1;
      continue;
    }
    budget.left -= 1;
    const shownKey = child || fieldNamePattern.test(key) ? key : `[key ${(replacedKeys += 1)}]`;
    // Under a personal-looking key only the mapped paths that go through it are looked at.
    const throughPersonal = child !== undefined && child.children.size > 0 && item !== null && typeof item === 'object';
    defineKey(
      copy,
      shownKey,
      isPersonalKey(key) && !throughPersonal ? '[personal data]' : redactValue(item, child, depth + 1, budget),
    );
  }
  if (omitted > 0) defineKey(copy, `[… ${plural(omitted, 'more key')}]`, '[not shown]');
  return copy;
}

/** A marker `redactPersonalData` put in place of a value. */
const markerPattern = /^\[(text: \d+ characters?|number|boolean|date|bigint|symbol|function|personal data)\]$/;

/** How much of a vendor value a message quotes. */
const maxQuotedCharacters = 40;

/** A value's shape in words, for a message that does not quote it: `a text of 12 characters`, `a list of 3 items`. */
function describeSourceValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return `a list of ${plural(value.length, 'item')}`;
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string') return value === '' ? 'an empty text' : `a text of ${characters(value)}`;
  if (typeof value === 'boolean') return 'a boolean';
  return `a ${typeof value}`;
}

/**
 * A vendor value as a message may show it. Quoted — JSON-escaped, at most 40 characters — only when it was read
 * from a mapped source path (`from`; several when a field has more than one) whose own key does not look personal;
 * otherwise only its shape (`a text of 20 characters (not shown: …)`). Lists and objects are never quoted.
 */
export function quoteSourceValue(value: unknown, from: string | readonly string[] | undefined): string {
  // A replayed dead letter holds markers where it kept no value: say so, rather than quote the marker as data.
  if (typeof value === 'string' && markerPattern.test(value)) return `${value} (a value the dead letter did not keep)`;
  const paths = from === undefined ? [] : typeof from === 'string' ? [from] : from;
  const personal = paths.find(isPersonalPath);
  if (paths.length > 0 && personal === undefined) {
    if (typeof value === 'string') return JSON.stringify(shortened(value));
    if (typeof value === 'number' || typeof value === 'boolean' || value === null) return String(value);
  }
  const shape = describeSourceValue(value);
  if (value === null || value === undefined || value === '' || typeof value === 'object') return shape;
  return `${shape} (not shown: ${personal === undefined ? 'not read from a field the connector maps' : `${personal} looks like personal data`})`;
}

/** The first 40 characters of a text (whole code points), with `…` when there were more. */
function shortened(text: string): string {
  let kept = '';
  let count = 0;
  for (const point of text) {
    if (count === maxQuotedCharacters) return `${kept}…`;
    kept += point;
    count += 1;
  }
  return kept;
}
