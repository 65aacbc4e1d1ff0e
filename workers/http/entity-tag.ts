import { createHash } from 'node:crypto';

/**
 * A strong entity tag (RFC 9110 §8.8.3), quoted: a prefix that helps a person read it (e.g. the source version)
 * and a digest of the representation's text, so two representations have the same tag exactly when their text is
 * the same.
 */
export function strongEntityTag(prefix: string, representation: string): string {
  const digest = createHash('sha256').update(representation).digest('base64url').slice(0, 22);
  return `"${prefix}-${digest}"`;
}

/**
 * Whether `If-None-Match` matches the current representation's tag (RFC 9110 §13.1.2): `*` matches any current
 * representation; otherwise any tag of the list matches by weak comparison (`W/"x"` matches `"x"`).
 */
export function ifNoneMatchMatches(header: string | string[] | undefined, entityTag: string): boolean {
  if (header === undefined) return false;
  const value = Array.isArray(header) ? header.join(',') : header;
  if (value.trim() === '*') return true;
  const opaque = (tag: string) => tag.replace(/^W\//, '');
  const wanted = opaque(entityTag);
  return (value.match(/(?:W\/)?"[\x21\x23-\x7e\x80-\xff]*"/g) ?? []).some((tag) => opaque(tag) === wanted);
}
