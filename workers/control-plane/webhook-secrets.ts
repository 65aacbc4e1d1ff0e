import type { Kysely } from 'kysely';
import { rotateWebhookSecret, type RotationOutcome } from '../../db/queries/webhook-secrets.js';
import type { Database } from '../../db/schema.js';
import { generateWebhookSecret, type SecretBox } from '../webhooks/secret-box.js';

/**
 * Issues a connector's next webhook secret: a new `whsec_…` sealed under the secrets key and stored beside the
 * previous one, which stays valid for `graceSeconds` (0: refused at once). The secret is returned this once, to
 * give to the province system's team; only its sealed form is kept.
 */
export async function issueWebhookSecret(
  db: Kysely<Database>,
  box: SecretBox,
  connectorId: string,
  graceSeconds: number,
): Promise<{ secret: string; outcome: RotationOutcome }> {
  const secret = generateWebhookSecret();
  const outcome = await rotateWebhookSecret(db, connectorId, box.seal(secret, connectorId), graceSeconds);
  return { secret, outcome };
}
