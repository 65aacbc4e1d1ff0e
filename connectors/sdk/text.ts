/** A code unit from U+0300 (the combining marks) up: text without one is all NFC-stable characters, NFC already. */
const beyondLatin = /[\u0300-\uffff]/;

/**
 * `value` in NFC. Codes, statuses and dates are ASCII: they skip ICU's normalisation, a few tenths of a microsecond
 * for each text field of each record on the poll path.
 */
function nfc(value: string): string {
  return beyondLatin.test(value) ? value.normalize('NFC') : value;
}

/**
 * Vietnamese text is compared and stored in Unicode NFC (DESIGN.md, "Text"). Blank becomes null. Text that
 * Postgres cannot store (NUL, unpaired surrogates) is refused by the caller before, with the field's name
 * (`storable-text.ts`): removing or replacing it here would store another value than the source sent.
 */
export function normaliseText(value: string | null | undefined): string | null {
  if (value === null || value === undefined) return null;
  const text = nfc(value).trim();
  return text === '' ? null : text;
}

/** The form in which vendor text is compared with a definition's text (value maps, statuses): NFC, trimmed. */
export function comparableText(value: string): string {
  return nfc(value).trim();
}
