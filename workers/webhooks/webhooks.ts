import type { Kysely } from 'kysely';
import type { Config } from '../../config/env.js';
import type { Database } from '../../db/schema.js';
import type { BackgroundErrors, ErrorSource } from '../background-error-reporter.js';
import type { Logger } from '../logger.js';
import type { FleetMetrics } from '../metrics.js';
import { connectRedis } from '../redis.js';
import { DeliveryLedger } from './delivery-ledger.js';
import { SecretBox } from './secret-box.js';
import { WebhookBatcher, type AcknowledgingQueue } from './webhook-batcher.js';
import { WebhookIntake } from './webhook-intake.js';
import { WebhookReceivers } from './webhook-receivers.js';

const ledgerConnectionError: ErrorSource = {
  component: 'webhooks',
  kind: 'connection',
  message:
    "the webhook ledger's Redis connection failed; deliveries are answered 503 queue_unavailable until it is back",
};
const answerNotRecorded: ErrorSource = {
  component: 'webhooks',
  kind: 'ledger_commit',
  level: 'warn',
  message:
    'could not record a webhook answer in the idempotency ledger; a retry of that delivery will be applied again (harmless)',
};
const claimNotReleased: ErrorSource = {
  component: 'webhooks',
  kind: 'ledger_release',
  level: 'warn',
  message:
    'could not give up the claim of a delivery that was not taken; a retry of it is answered 409 delivery_in_progress until the claim lapses (30 s)',
};

/** The webhook side of a gateway process. */
export interface Webhooks {
  intake: WebhookIntake;
  bodyLimit: number;
  /** Refuses new deliveries, waits for those in hand to be acknowledged, closes its Redis connection. */
  close(): Promise<void>;
}

/**
 * Builds the gateway's webhook intake from the configuration: the receivers cache (connectors and their
 * decrypted secrets), the idempotency ledger on its own Redis connection, and the batcher in front of the
 * ingest queue. Without SECRETS_KEY the intake answers every delivery 503 `webhooks_not_configured` (and says so
 * once in the log); the rest of the fleet runs.
 */
export function createWebhooks(
  config: Config,
  db: Kysely<Database>,
  ingest: AcknowledgingQueue,
  metrics: FleetMetrics,
  logger: Logger,
  errors: BackgroundErrors,
): Webhooks {
  const box = SecretBox.fromConfig(config);
  if (!box) {
    logger.warn(
      'SECRETS_KEY (or SECRETS_KEYS) is not set: webhook deliveries are refused (503 webhooks_not_configured) until it is; set it to the key the webhook secrets were issued with',
    );
    const intake = new WebhookIntake({ receivers: null, ledger: null, batcher: null, metrics, logger });
    return { intake, bodyLimit: config.WEBHOOK_BODY_LIMIT_BYTES, close: () => intake.close() };
  }
  // Its own connection: commands fail after the acknowledgement timeout instead of waiting for Redis forever,
  // and concurrent deliveries' commands share round trips (auto-pipelining).
  const redis = connectRedis(config.REDIS_URL, {
    enableAutoPipelining: true,
    commandTimeout: config.WEBHOOK_ACK_TIMEOUT_MS,
    maxRetriesPerRequest: 1,
    retryStrategy: (attempt) => Math.min(attempt * 200, 5_000),
  });
  redis.on('error', (error) => errors.report(ledgerConnectionError, error));
  const ledger = new DeliveryLedger(redis, {
    prefix: config.QUEUE_PREFIX,
    ttlSeconds: config.WEBHOOK_IDEMPOTENCY_TTL_SECONDS,
    claimTtlMs: Math.max(30_000, 3 * config.WEBHOOK_ACK_TIMEOUT_MS),
    waitMs: config.WEBHOOK_ACK_TIMEOUT_MS,
    onLedgerError: (error, step) => errors.report(step === 'commit' ? answerNotRecorded : claimNotReleased, error),
  });
  const batcher = new WebhookBatcher(ingest, {
    maxRecords: config.WEBHOOK_BATCH_MAX_RECORDS,
    maxWaitMs: config.WEBHOOK_BATCH_WAIT_MS,
    ackTimeoutMs: config.WEBHOOK_ACK_TIMEOUT_MS,
  });
  const intake = new WebhookIntake({ receivers: new WebhookReceivers(db, box), ledger, batcher, metrics, logger });
  return {
    intake,
    bodyLimit: config.WEBHOOK_BODY_LIMIT_BYTES,
    async close() {
      await intake.close();
      redis.disconnect();
    },
  };
}
