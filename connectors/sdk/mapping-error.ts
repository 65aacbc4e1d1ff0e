/**
 * Why a record was turned into a dead letter. Stable machine codes: provincial IT teams and alert rules
 * match on them.
 */
export const deadLetterReasons = [
  'unknown_status',
  'missing_field',
  'bad_date',
  'bad_province',
  'bad_value',
  'malformed_record',
  // The writer's, not a mapping's: a record the database refused although it passed mapping (DESIGN.md guarantee 4).
  'unstorable',
] as const;
export type DeadLetterReason = (typeof deadLetterReasons)[number];

/**
 * A record that cannot be mapped to the canonical form. The message names the source field and what was
 * expected, and must never quote personal data: a vendor value goes in only through `quoteSourceValue`
 * (personal-data.ts), which quotes it only from a mapped field whose key does not look personal.
 */
export class MappingError extends Error {
  override readonly name = 'MappingError';
  constructor(
    readonly reason: DeadLetterReason,
    message: string,
    /** The dossier the record is about, when it could be read: names it in logs and the dead letter. */
    public dossierCode: string | null = null,
  ) {
    super(message);
  }
}
