import { parseSourceDate } from '../../../connectors/sdk/dates.js';
import { MappingError } from '../../../connectors/sdk/mapping-error.js';
import type { CursorStart } from './cursor-index.js';

/** Page size when a request gives no `limit`. */
export const defaultPageSize = 100;
/** The largest `limit` a request may ask for. */
export const maxPageSize = 5000;

/** A request the portal dialect would refuse with 400; the message tells the caller which parameter is wrong. */
export class BadRequestError extends Error {
  override readonly name = 'BadRequestError';
}

/** A valid `GET /api/dossiers` request. */
export interface DossierQuery {
  provinceCode: string;
  start: CursorStart;
  /** Only dossiers updated strictly before this time (`updatedBefore`, ms): one time window. Null: no bound. */
  updatedBefore: number | null;
  /** Dossiers skipped after the start (`offset`, for clients that page by offset). Default 0. */
  offset: number;
  limit: number;
}

/** Reads the query string of `GET /api/dossiers`; throws BadRequestError for anything the dialect rejects. */
export function parseDossierQuery(
  query: Readonly<Record<string, unknown>>,
  provinces: { has(code: string): boolean },
): DossierQuery {
  const provinceCode = single(query, 'province');
  if (provinceCode === null) throw new BadRequestError('province is required');
  if (!provinces.has(provinceCode))
    throw new BadRequestError(`province ${JSON.stringify(provinceCode)} is not served here`);

  const limitText = single(query, 'limit');
  const limit = limitText === null ? defaultPageSize : Number(limitText);
  if (limitText !== null && (!/^\d+$/.test(limitText) || limit < 1 || limit > maxPageSize)) {
    throw new BadRequestError(`limit must be an integer from 1 to ${maxPageSize}`);
  }

  const offsetText = single(query, 'offset');
  const offset = offsetText === null ? 0 : Number(offsetText);
  if (offsetText !== null && (!/^\d+$/.test(offsetText) || !Number.isSafeInteger(offset)))
    throw new BadRequestError('offset must be a whole number of at least 0');

  const updatedSince = parseTime(single(query, 'updatedSince'), 'updatedSince');
  const updatedBefore = parseTime(single(query, 'updatedBefore'), 'updatedBefore');
  const afterCode = single(query, 'afterCode');
  // The cursor is (time, code): a code alone says nothing about where a page starts.
  if (afterCode !== null && updatedSince === null) throw new BadRequestError('afterCode needs updatedSince');
  return { provinceCode, start: { updatedSince, afterCode }, updatedBefore, offset, limit };
}

function single(query: Readonly<Record<string, unknown>>, name: string): string | null {
  const value = query[name];
  if (value === undefined) return null;
  if (typeof value !== 'string') throw new BadRequestError(`${name} must be given once`);
  return value;
}

function parseTime(text: string | null, name: 'updatedSince' | 'updatedBefore'): number | null {
  if (text === null) return null;
  if (text.trim() === '') throw new BadRequestError(`${name} is empty; expected yyyyMMddHHmmss, Vietnam time`);
  try {
    return (parseSourceDate(text, name, 'yyyyMMddHHmmss') as Date).getTime();
  } catch (error) {
    if (error instanceof MappingError) throw new BadRequestError(error.message);
    throw error;
  }
}
