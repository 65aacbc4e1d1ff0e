// The two `Authorization` schemes the dialects read. Scheme names are case-insensitive (RFC 9110 §11.1);
// anything unreadable comes back null, which every dialect treats as "no credentials".

/** The token of `Authorization: Bearer <token>`, or null. */
export function bearerToken(header: string | undefined): string | null {
  const match = /^Bearer +(\S+) *$/i.exec(header ?? '');
  return match ? (match[1] as string) : null;
}

/** The user and password of `Authorization: Basic base64(user:password)`, or null. */
export function basicCredentials(header: string | undefined): { user: string; password: string } | null {
  const match = /^Basic +([A-Za-z0-9+/]+=*) *$/i.exec(header ?? '');
  if (!match) return null;
  const decoded = Buffer.from(match[1] as string, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  // RFC 7617: the user name ends at the first colon; the password may contain more.
  return colon < 0 ? null : { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}
