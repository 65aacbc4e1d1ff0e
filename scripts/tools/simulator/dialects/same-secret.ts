import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * True when a presented secret equals the configured one. Compares digests in constant time, so neither the
 * length nor a common prefix leaks through response times.
 */
export function sameSecret(given: string | null | undefined, expected: string): boolean {
  if (typeof given !== 'string') return false;
  return timingSafeEqual(digest(given), digest(expected));
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}
