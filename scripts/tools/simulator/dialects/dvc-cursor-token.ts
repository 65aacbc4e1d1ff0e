import type { CursorStart } from '../cursor-index.js';
import type { SimulatedDossier } from '../simulated-dossier.js';

/**
 * dvc's opaque `next_cursor`: base64url of the last served record's (update time, dossier code) and its
 * province. Clients must not look inside; the simulator keeps it a keyset position, so a page continues
 * strictly after the previous one however many records change meanwhile.
 */
interface CursorPosition {
  /** Province the cursor pages through; a cursor is no good for another. */
  p: string;
  /** cap_nhat_luc of the last record, epoch ms. */
  t: number;
  /** ma_ho_so of the last record. */
  c: string;
}

/** The token that continues after this dossier. */
export function cursorAfter(dossier: SimulatedDossier): string {
  const position: CursorPosition = { p: dossier.provinceCode, t: dossier.updatedAt, c: dossier.code };
  return Buffer.from(JSON.stringify(position)).toString('base64url');
}

/** Where the token says to continue, or null for a token this simulator did not issue for the province. */
export function readCursor(token: string, provinceCode: string): CursorStart | null {
  if (!/^[A-Za-z0-9_-]+$/.test(token)) return null;
  let position: unknown;
  try {
    position = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    return null;
  }
  if (!isCursorPosition(position) || position.p !== provinceCode) return null;
  return { updatedSince: position.t, afterCode: position.c };
}

function isCursorPosition(value: unknown): value is CursorPosition {
  if (typeof value !== 'object' || value === null) return false;
  const { p, t, c } = value as Record<string, unknown>;
  return typeof p === 'string' && typeof c === 'string' && typeof t === 'number' && Number.isSafeInteger(t);
}
