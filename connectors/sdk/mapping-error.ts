import type { DeadLetterReason } from '../../config/error-catalogue.js';

/**
 * Why a record was turned into a dead letter: declared, with every other machine code, in config/error-catalogue.ts.
 */
export type { DeadLetterReason };

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
