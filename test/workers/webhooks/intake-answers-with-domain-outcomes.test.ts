import { expect, it } from 'vitest';
import { createLogger } from '../../../workers/logger.js';
import { FleetMetrics } from '../../../workers/metrics.js';
import type { DeliveryLedger } from '../../../workers/webhooks/delivery-ledger.js';
import type { WebhookBatcher } from '../../../workers/webhooks/webhook-batcher.js';
import { WebhookIntake } from '../../../workers/webhooks/webhook-intake.js';
import type { WebhookReceivers } from '../../../workers/webhooks/webhook-receivers.js';

// The intake says what became of a delivery — accepted, or refused with a catalogue code, a detail for the
// sender and when to try again — and nothing of HTTP; the route turns that into a status and headers.

const delivery = { connectorId: 'conn-a', headers: {}, body: Buffer.from('{}'), receivedAt: new Date() };

it('refuses a delivery with a catalogue code, a detail and when to try again, without throwing', async () => {
  const intake = new WebhookIntake({
    receivers: null,
    ledger: null,
    batcher: null,
    metrics: new FleetMetrics(),
    logger: createLogger('silent'),
  });
  expect(await intake.handle(delivery)).toEqual({
    kind: 'refused',
    code: 'webhooks_not_configured',
    detail: expect.stringContaining('SECRETS_KEY is not set'),
    retryAfterSeconds: 5,
  });
});

it('refuses what arrives once it is closing: shutting_down, to be sent again, and counts it', async () => {
  const metrics = new FleetMetrics();
  // Nothing of these is asked before the intake finds it is closing.
  const receivers = { isKnown: () => false } as unknown as WebhookReceivers;
  const batcher = { close: async () => {} } as unknown as WebhookBatcher;
  const intake = new WebhookIntake({
    receivers,
    ledger: {} as DeliveryLedger,
    batcher,
    metrics,
    logger: createLogger('silent'),
  });
  await intake.close();
  expect(await intake.handle(delivery)).toEqual({
    kind: 'refused',
    code: 'shutting_down',
    detail: expect.stringContaining('send the delivery again'),
    retryAfterSeconds: 5,
  });
  expect(await metrics.registry.metrics()).toMatch(
    /dossier_sync_webhook_deliveries_total\{connector="\(unknown\)",outcome="shutting_down"\} 1/,
  );
});
