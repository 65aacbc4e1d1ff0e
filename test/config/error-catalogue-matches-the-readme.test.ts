import { readFileSync } from 'node:fs';
import { STATUS_CODES } from 'node:http';
import { describe, expect, it } from 'vitest';
import {
  deadLetterReasons,
  errorCatalogue,
  isCodedError,
  isErrorCode,
  requestErrors,
} from '../../config/error-catalogue.js';

// The README's code tables are what provincial IT teams and operators read: they must say what the system emits.

/** One row of a README table with a `code` or `reason` column: the codes in that cell, and the row's status. */
interface DocumentedCode {
  code: string;
  /** The row's `status`; null in a table without one (dead-letter reasons). */
  status: number | null;
  line: number;
}

const cellsOf = (line: string) =>
  line
    .trim()
    .replace(/^\||\|$/g, '')
    .split(/(?<!\\)\|/)
    .map((cell) => cell.trim());
const isRow = (line: string | undefined) => line !== undefined && /^\s*\|.*\|\s*$/.test(line);
const isSeparator = (line: string | undefined) => line !== undefined && /^\s*\|(\s*:?-+:?\s*\|)+\s*$/.test(line);

/** Every code documented in a README table whose header has a `code` or `reason` column. */
function documentedCodes(markdown: string): DocumentedCode[] {
  const lines = markdown.split('\n');
  const found: DocumentedCode[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!isRow(lines[i]) || !isSeparator(lines[i + 1]) || isRow(lines[i - 1])) continue;
    const header = cellsOf(lines[i]!).map((cell) => cell.replaceAll('`', ''));
    const codeColumn = header.findIndex((cell) => cell === 'code' || cell === 'reason');
    const statusColumn = header.indexOf('status');
    if (codeColumn < 0) continue;
    for (let row = i + 2; isRow(lines[row]); row++) {
      const cells = cellsOf(lines[row]!);
      const status = statusColumn < 0 ? null : Number(cells[statusColumn]);
      for (const [, code] of (cells[codeColumn] ?? '').matchAll(/`([a-z][a-z0-9_]*)`/g))
        found.push({ code: code!, status, line: row + 1 });
    }
  }
  return found;
}

const documented = documentedCodes(readFileSync(new URL('../../README.md', import.meta.url), 'utf8'));
const statusOf = (code: string): number | null =>
  Object.hasOwn(requestErrors, code) ? requestErrors[code as keyof typeof requestErrors].status : null;

describe('the error catalogue and the README', () => {
  it('finds the README code tables: the webhook answers, the admin API, readiness and the dead-letter reasons', () => {
    const codes = new Set(documented.map((entry) => entry.code));
    for (const code of ['signature_invalid', 'invalid_definition', 'not_ready', 'unknown_status'])
      expect(codes).toContain(code);
  });

  it('documents every code of the catalogue in a README table, with its HTTP status', () => {
    for (const code of Object.keys(errorCatalogue)) {
      const rows = documented.filter((entry) => entry.code === code);
      expect(rows.length, `${code} is in no README table`).toBeGreaterThan(0);
      for (const row of rows)
        expect({ code, status: row.status }, `README.md line ${row.line}`).toEqual({ code, status: statusOf(code) });
    }
  });

  it('documents no code the catalogue does not declare', () => {
    for (const { code, line } of documented) expect(isErrorCode(code), `README.md line ${line}: ${code}`).toBe(true);
  });
});

describe('the error catalogue', () => {
  it('gives every request error a status of 400 to 599 and, as its problem title, the status phrase', () => {
    for (const [code, { status, title }] of Object.entries(requestErrors)) {
      expect(status, code).toBeGreaterThanOrEqual(400);
      expect(status, code).toBeLessThan(600);
      expect(title, code).toBe(STATUS_CODES[status]);
    }
  });

  it('declares the dead-letter reasons without a status: a reason is about a record, not an answer', () => {
    expect(Object.keys(deadLetterReasons).sort()).toEqual([
      'bad_date',
      'bad_province',
      'bad_value',
      'malformed_record',
      'missing_field',
      'unknown_status',
      'unstorable',
    ]);
    for (const entry of Object.values(deadLetterReasons)) expect(entry).not.toHaveProperty('status');
  });

  it('uses snake_case codes, each declared once', () => {
    const codes = [...Object.keys(requestErrors), ...Object.keys(deadLetterReasons)];
    expect(new Set(codes).size).toBe(codes.length);
    for (const code of codes) expect(code).toMatch(/^[a-z][a-z0-9_]*$/);
  });

  it('recognises an Error carrying a catalogue code, and no other', () => {
    expect(isCodedError(Object.assign(new Error('connector x is not registered'), { code: 'not_found' }))).toBe(true);
    expect(isCodedError(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }))).toBe(false);
    expect(isCodedError(Object.assign(new Error('prototype'), { code: 'constructor' }))).toBe(false);
    expect(isCodedError({ code: 'not_found', message: 'not an Error' })).toBe(false);
    expect(isErrorCode('toString')).toBe(false);
  });
});
