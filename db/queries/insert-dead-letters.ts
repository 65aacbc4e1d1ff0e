import { createHash } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import type { DeadLetter } from '../../connectors/sdk/normalise.js';
import type { Database } from '../schema.js';

/**
 * Keeps a batch of dead letters, in one statement. The same bad record seen again (a look-back re-read, a
 * retried batch) is kept once. Returns how many new letters were stored.
 */
export async function insertDeadLetters(db: Kysely<Database>, deadLetters: readonly DeadLetter[]): Promise<number> {
  if (deadLetters.length === 0) return 0;
  const rows = deadLetters.map((letter) => {
    const rawPayload = JSON.stringify(letter.rawPayload) ?? 'null';
    return {
      connector_id: letter.connectorId,
      province_code: letter.provinceCode,
      dossier_code: letter.dossierCode,
      reason: letter.reason,
      message: letter.message,
      fingerprint: createHash('sha1').update(letter.reason).update('\u0000').update(rawPayload).digest('base64'),
      raw_payload: rawPayload,
      received_at: letter.receivedAt,
    };
  });
  const result = await sql`
    INSERT INTO dead_letters (connector_id, province_code, dossier_code, reason, message, fingerprint, raw_payload, received_at)
    SELECT connector_id, province_code, dossier_code, reason, message, fingerprint, raw_payload, received_at
    FROM jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) AS r(
      connector_id text, province_code text, dossier_code text, reason text, message text, fingerprint text,
      raw_payload text, received_at timestamptz)
    ON CONFLICT (connector_id, fingerprint) DO NOTHING
  `.execute(db);
  return Number(result.numAffectedRows ?? 0);
}
