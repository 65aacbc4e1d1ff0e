import type { Kysely } from 'kysely';
import { insertAuditEvent } from '../../db/queries/audit-events.js';
import { rotateWebhookSecret, type RotationOutcome } from '../../db/queries/webhook-secrets.js';
import type { Database } from '../../db/schema.js';
import { generateWebhookSecret, type SecretBox } from '../webhooks/secret-box.js';
import { actorColumns, connectorAuditColumns, type Actor } from './audit.js';

/** What a rotation is asked. */
export interface IssueOptions {
  connectorId: string;
  /** How long the previous secrets stay valid; 0: refused at once. */
  graceSeconds: number;
  /** Who rotates: recorded in the audit trail with the rotation (never the secret). */
  actor: Actor;
}

/**
 * Issues a connector's next webhook secret: a new `whsec_…` sealed under the secrets key and stored beside the
 * previous one, which stays valid for `graceSeconds` (0: refused at once). The secret is returned this once, to
 * give to the province system's team; only its sealed form is kept.
 */
export async function issueWebhookSecret(
  db: Kysely<Database>,
  box: SecretBox,
  { connectorId, graceSeconds, actor }: IssueOptions,
): Promise<{ secret: string; outcome: RotationOutcome }> {
  const secret = generateWebhookSecret();
  const outcome = await db.transaction().execute(async (trx) => {
    const outcome = await rotateWebhookSecret(trx, connectorId, box.seal(secret, connectorId), graceSeconds);
    if (outcome.status === 'rotated')
      await insertAuditEvent(trx, {
        ...actorColumns(actor),
        action: 'webhook_secret.rotate',
        ...(await connectorAuditColumns(trx, connectorId)),
        details: { graceSeconds, previousSecrets: outcome.previous.count },
      });
    return outcome;
  });
  return { secret, outcome };
}
