import type { Config } from '../../../config/env.js';
import { cliActor } from '../../../workers/control-plane/audit.js';
import { issueWebhookSecret } from '../../../workers/control-plane/webhook-secrets.js';
import { MissingSecretsKeyError, SecretBox } from '../../../workers/webhooks/secret-box.js';
import { NotFoundError, UsageError } from '../cli-errors.js';
import { formatTime, withDatabase } from '../cli-output.js';

// `fleet connector rotate-secret ID [--grace 24h]`: issues a connector's webhook secret (Standard Webhooks,
// `whsec_…`). It is printed once, alone on the last line of stdout, and stored only encrypted under the newest key.

const units: Record<string, number> = { s: 1, m: 60, h: 3_600, d: 86_400 };
/** The longest grace period: long enough for any vendor's change process, short enough not to forget an old secret. */
const maxGraceSeconds = 90 * 86_400;

/** Parses a duration such as 30m, 24h, 7d, 90s or 0 into seconds; throws UsageError. */
export function parseDuration(value: string, option: string): number {
  const match = /^(\d{1,7})(s|m|h|d)?$/.exec(value.trim());
  const seconds = match ? Number(match[1]) * units[match[2] ?? (match[1] === '0' ? 's' : '')]! : NaN;
  if (!Number.isFinite(seconds) || seconds > maxGraceSeconds) {
    throw new UsageError(
      `fleet connector rotate-secret: ${option} ${JSON.stringify(value)}: expected a duration such as 30m, 24h or 7d (at most 90d), or 0 to refuse the old secret at once`,
    );
  }
  return seconds;
}

function describeDuration(seconds: number): string {
  for (const [unit, size] of [
    ['d', 86_400],
    ['h', 3_600],
    ['m', 60],
  ] as const)
    if (seconds % size === 0) return `${seconds / size}${unit}`;
  return `${seconds}s`;
}

/** `fleet connector rotate-secret ID [--grace 24h]`. */
export async function connectorRotateSecret(config: Config, id: string, options: { grace: string }): Promise<void> {
  const graceSeconds = parseDuration(options.grace, '--grace');
  const box = SecretBox.fromConfig(config);
  if (!box)
    throw new UsageError(
      `fleet connector rotate-secret: ${new MissingSecretsKeyError('cannot encrypt the new webhook secret').message}`,
    );
  const { secret, outcome } = await withDatabase(config, (db) =>
    issueWebhookSecret(db, box, { connectorId: id, graceSeconds, actor: cliActor() }),
  );
  if (outcome.status === 'not_found')
    throw new NotFoundError(
      `fleet connector rotate-secret: there is no connector ${id}; expected an id fleet connector list shows`,
    );
  if (outcome.status === 'removed')
    throw new UsageError(
      `fleet connector rotate-secret: connector ${id} is removed; register it again with fleet connector add first`,
    );

  const { previous } = outcome;
  const old =
    previous.count === 0
      ? `issued the first webhook secret of connector ${id}`
      : previous.validUntil
        ? `rotated the webhook secret of connector ${id}: the previous one stays valid until ${formatTime(previous.validUntil)} (--grace ${describeDuration(graceSeconds)}), then only the new one is accepted`
        : `rotated the webhook secret of connector ${id}: the previous one is refused from now on (within 5 s on running gateways)`;
  const paused =
    outcome.state === 'paused' ? ' (the connector is paused: its deliveries are refused until it is resumed)' : '';
  console.log(`${old}${paused}.`);
  console.log(
    "Give it to the province system's team to sign deliveries with (Standard Webhooks); it is shown this once and stored only encrypted:",
  );
  console.log(secret);
}
