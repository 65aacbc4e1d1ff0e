import { createHash } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import type { DeadLetter } from '../../connectors/sdk/normalise.js';
import { escapeUnstorable, isStorableInstant, storablePayload } from '../../connectors/sdk/storable-text.js';
import type { Database } from '../schema.js';

const nullable = (text: string | null) => (text === null ? null : escapeUnstorable(text));

/**
 * Keeps a batch of dead letters, in one statement. The same bad record seen again (a look-back re-read, a
 * retried batch) is kept once. Returns how many new letters were stored. A letter made anywhere (an older
 * gateway, a plugin) is stored whatever its text: characters Postgres refuses are written as `\uXXXX` escapes,
 * the raw payload is JSON text (which escapes them itself), and a time Postgres cannot read becomes now.
 */
export async function insertDeadLetters(db: Kysely<Database>, deadLetters: readonly DeadLetter[]): Promise<number> {
  if (deadLetters.length === 0) return 0;
  const rows = deadLetters.map((letter) => {
    const rawPayload = JSON.stringify(storablePayload(letter.rawPayload)) ?? 'null';
    const reason = escapeUnstorable(String(letter.reason));
    return {
      connector_id: escapeUnstorable(letter.connectorId),
      province_code: nullable(letter.provinceCode),
      dossier_code: nullable(letter.dossierCode),
      reason,
      message: escapeUnstorable(letter.message),
      fingerprint: createHash('sha1').update(reason).update('\u0000').update(rawPayload).digest('base64'),
      raw_payload: rawPayload,
      received_at:
        typeof letter.receivedAt === 'string' && isStorableInstant(letter.receivedAt)
          ? letter.receivedAt
          : new Date().toISOString(),
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
