/**
 * Vietnamese text is compared and stored in Unicode NFC (DESIGN.md, "Text"). Blank becomes null. Text that
 * Postgres cannot store (NUL, unpaired surrogates) is refused by the caller before, with the field's name
 * (`storable-text.ts`): removing or replacing it here would store another value than the source sent.
 */
export function normaliseText(value: string | null | undefined): string | null {
  if (value === null || value === undefined) return null;
  const text = value.normalize('NFC').trim();
  return text === '' ? null : text;
}

/** The form in which vendor text is compared with a definition's text (value maps, statuses): NFC, trimmed. */
export function comparableText(value: string): string {
  return value.normalize('NFC').trim();
}
