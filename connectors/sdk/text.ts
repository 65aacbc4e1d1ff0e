/**
 * Vietnamese text is compared and stored in Unicode NFC (DESIGN.md, "Text"). NUL characters and lone
 * surrogates are replaced too: Postgres refuses both, and one such value would poison a whole batch.
 * Blank becomes null.
 */
export function normaliseText(value: string | null | undefined): string | null {
  if (value === null || value === undefined) return null;
  // eslint-disable-next-line no-control-regex
  const text = value.toWellFormed().normalize('NFC').replace(/\u0000/g, '').trim();
  return text === '' ? null : text;
}

/** The form in which vendor text is compared with a definition's text (value maps, statuses): NFC, trimmed. */
export function comparableText(value: string): string {
  return value.normalize('NFC').trim();
}
