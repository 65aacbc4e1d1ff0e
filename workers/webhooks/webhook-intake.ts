import { isUtf8 } from 'node:buffer';
import { randomUUID } from 'node:crypto';
import { WebhookVerificationError } from 'standardwebhooks';
import type { RequestErrorCode } from '../../config/error-catalogue.js';
import type { Connector } from '../../connectors/sdk/connector.js';
import { jobLogger, type Logger } from '../logger.js';
import type { FleetMetrics } from '../metrics.js';
import { bodyHashOf, LedgerUnavailableError, type DeliveryLedger } from './delivery-ledger.js';
import {
  isRefusal,
  refusal,
  type DeliveryAnswer,
  type DeliveryOutcome,
  type DeliveryRefused,
} from './delivery-outcome.js';
import { mapUpdates, readUpdates, type MappedUpdates } from './delivery-updates.js';
import { QueueUnavailableError, type WebhookBatcher } from './webhook-batcher.js';
import type { Receiver, WebhookReceivers } from './webhook-receivers.js';

/** One delivery as the HTTP layer received it: the raw body bytes, before anything is parsed. */
export interface WebhookDelivery {
  connectorId: string;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  /** When the gateway received the request: the records' `observedAt`. */
  receivedAt: Date;
}

/** What the intake needs; `receivers`, `ledger` and `batcher` are null when SECRETS_KEY is unset. */
export interface WebhookIntakeOptions {
  receivers: WebhookReceivers | null;
  ledger: DeliveryLedger | null;
  batcher: WebhookBatcher | null;
  metrics: FleetMetrics;
  logger: Logger;
  /** Deepest nesting accepted in a body. Default 64. */
  maxDepth?: number;
}

/** The Standard Webhooks headers of a delivery, present and well-formed (not yet verified). */
type SignatureHeaders = Record<'webhook-id' | 'webhook-timestamp' | 'webhook-signature', string>;

/**
 * One delivery's log: bound to its job id (made by the gateway: the sender's webhook-id is the sender's text, not
 * logged) and, once the connector is found registered, to its connector and province. Before that both are
 * `(unknown)`: an id in a URL is not logged unless it names a registered connector. The child logger is made on the
 * first line only: most deliveries log nothing, and a child per delivery would cost each one its bindings' walk.
 */
class DeliveryLog {
  /** The delivery's job id, on each of its lines. */
  readonly job = randomUUID();
  private ids: { province?: string; connector?: string } = {};
  private logger: Logger | undefined;

  constructor(private readonly base: Logger) {}

  /** Binds the registered connector the delivery is for (and its province) to the lines that follow. */
  bind(connector: string, province: string): void {
    this.ids = { connector, province };
    this.logger = undefined;
  }

  /** The logger of this delivery's lines. */
  get log(): Logger {
    return (this.logger ??= jobLogger(this.base, 'webhook', { ...this.ids, job: this.job }));
  }
}

/** A registered connector that can take pushes. */
interface Destination {
  receiver: Receiver;
  connector: Connector;
}

const connectorIdPattern = /^[a-z0-9][a-z0-9-]{0,62}$/;
const webhookIdPattern = /^[\x21-\x7e]{1,256}$/;
const signaturePattern = /^v1,[A-Za-z0-9+/]{43}=$/;
/** A signature that matches no cached secret makes the gateway read the secrets again, at most this often. */
const secretRefreshMs = 1_000;
/** Refusals of a delivery that may be taken if sent again a few seconds later. */
const soon = { retryAfterSeconds: 5 };
/** Refusals that are the gateway's failure, not the sender's: logged as errors. */
const gatewayFailures: ReadonlySet<RequestErrorCode> = new Set([
  'internal',
  'queue_unavailable',
  'connector_unavailable',
  'webhooks_not_configured',
  'shutting_down',
]);

function header(headers: WebhookDelivery['headers'], name: string): string | undefined {
  const value = headers[name];
  const text = Array.isArray(value) ? value.join(', ') : value;
  return text === undefined || text.trim() === '' ? undefined : text.trim();
}

/** The signature headers, or why they cannot be checked: missing, or not of the Standard Webhooks form. */
function signatureHeadersOf(headers: WebhookDelivery['headers']): SignatureHeaders | DeliveryRefused {
  const webhookId = header(headers, 'webhook-id');
  const timestamp = header(headers, 'webhook-timestamp');
  const signature = header(headers, 'webhook-signature');
  if (webhookId === undefined) {
    return refusal(
      'webhook_id_missing',
      'the webhook-id header is missing; send a unique id per message, the same on every retry of it (Standard Webhooks)',
    );
  }
  if (signature === undefined || timestamp === undefined) {
    const missing = [
      signature === undefined ? 'webhook-signature' : null,
      timestamp === undefined ? 'webhook-timestamp' : null,
    ]
      .filter(Boolean)
      .join(' and ');
    return refusal(
      'signature_missing',
      `the ${missing} header${missing.includes(' and ') ? 's are' : ' is'} missing; sign each delivery as Standard Webhooks says, with the connector's whsec_ secret`,
    );
  }
  if (!webhookIdPattern.test(webhookId))
    return refusal('signature_invalid', 'webhook-id: expected 1 to 256 visible ASCII characters');
  if (!/^\d{1,15}$/.test(timestamp))
    return refusal(
      'signature_invalid',
      'webhook-timestamp: expected the time of signing in whole seconds since 1970 (unix time)',
    );
  if (!signature.split(' ').some((part) => signaturePattern.test(part))) {
    return refusal(
      'signature_invalid',
      'webhook-signature: expected one or more "v1,<base64 HMAC-SHA256>" separated by spaces',
    );
  }
  return { 'webhook-id': webhookId, 'webhook-timestamp': timestamp, 'webhook-signature': signature };
}

/** Checks the signature with each accepted secret (several during a rotation). */
function verify(receiver: Receiver, body: Buffer, headers: SignatureHeaders): 'ok' | 'timestamp' | 'mismatch' {
  const now = Date.now();
  for (const { webhook, expiresAt } of receiver.verifiers) {
    if (expiresAt !== null && expiresAt <= now) continue;
    try {
      webhook.verify(body, headers, { jsonParse: false });
      return 'ok';
    } catch (error) {
      if (!(error instanceof WebhookVerificationError)) throw error;
      // The library checks the timestamp before any signature: it would fail the same under every secret.
      if (/timestamp/i.test(error.message)) return 'timestamp';
    }
  }
  return 'mismatch';
}

/**
 * Takes webhook deliveries (DESIGN.md: Standard Webhooks): authenticates them against the connector's secrets
 * with the `standardwebhooks` library, on the raw body bytes; parses the body strictly only once it is
 * authentic; maps its updates with the connector (the polling machinery: `webhookItems`, then `mapItems`);
 * hands records and dead letters to the batcher; and accepts the delivery only once they are durable in the
 * queue. A retried delivery (same webhook-id) gets the same answer from the ledger and is not applied again.
 * It answers in domain terms (accepted, or refused with a catalogue code); the route says it in HTTP.
 */
export class WebhookIntake {
  private closing = false;
  private readonly inFlight = new Set<Promise<DeliveryOutcome>>();
  private readonly maxDepth: number;

  constructor(private readonly options: WebhookIntakeOptions) {
    this.maxDepth = options.maxDepth ?? 64;
  }

  /** What becomes of one delivery; never throws (a fault of ours is the refusal `internal`). */
  handle(delivery: WebhookDelivery): Promise<DeliveryOutcome> {
    const outcome = this.outcomeOf(delivery);
    this.inFlight.add(outcome);
    void outcome.finally(() => this.inFlight.delete(outcome));
    return outcome;
  }

  /** Counts a delivery refused before it reached the intake (body too large, wrong media type). */
  countRefused(connectorId: string, code: RequestErrorCode): void {
    this.options.metrics.webhookDeliveries.inc({ connector: this.connectorLabel(connectorId), outcome: code });
  }

  /**
   * Refuses new deliveries (`shutting_down`), then waits for those in hand to be acknowledged and for the batcher to
   * drain.
   */
  async close(): Promise<void> {
    this.closing = true;
    await Promise.allSettled([...this.inFlight]);
    await this.options.batcher?.close();
  }

  private connectorLabel(connectorId: string): string {
    // Only registered connectors become label values: made-up ids must not grow the metric without bound.
    return this.options.receivers?.isKnown(connectorId) ? connectorId : '(unknown)';
  }

  /** Takes the delivery, logs a refusal (a failure with its error), and counts the outcome. */
  private async outcomeOf(delivery: WebhookDelivery): Promise<DeliveryOutcome> {
    const context = new DeliveryLog(this.options.logger);
    const stopTimer = this.options.metrics.operationDuration.startTimer({ stage: 'webhook' });
    let outcome: DeliveryOutcome;
    try {
      outcome = await this.take(delivery, context);
      // A delivery whose every update is invalid was taken (its dead letters are kept): not a refusal to log.
      if (outcome.kind === 'refused' && outcome.code !== 'all_records_invalid') {
        context.log[gatewayFailures.has(outcome.code) ? 'error' : 'info'](
          { code: outcome.code },
          'webhook delivery refused',
        );
      } else if (outcome.kind === 'refused') {
        context.log.debug({ code: outcome.code }, 'webhook delivery taken: every update is a dead letter');
      } else {
        context.log.debug(
          { accepted: outcome.accepted, rejected: outcome.rejected, replayed: outcome.replayed === true },
          'webhook delivery accepted',
        );
      }
    } catch (error) {
      context.log.error({ err: error instanceof Error ? error.message : String(error) }, 'webhook delivery failed');
      outcome = refusal(
        'internal',
        'the delivery could not be processed; it was not acknowledged, so send it again later (the error is in the gateway log)',
      );
    }
    const counted = outcome.replayed ? 'replayed' : outcome.kind === 'accepted' ? 'accepted' : outcome.code;
    // An error is ours (the gateway could not take it), not a sender's bad delivery.
    stopTimer({ outcome: outcome.kind === 'refused' && gatewayFailures.has(outcome.code) ? 'error' : 'ok' });
    this.options.metrics.webhookDeliveries.inc({
      connector: this.connectorLabel(delivery.connectorId),
      outcome: counted,
    });
    return outcome;
  }

  /**
   * The checks in order (DESIGN.md, README "Webhooks"): the connector, the signature, the pause, the body; then the
   * queue, once.
   */
  private async take(delivery: WebhookDelivery, context: DeliveryLog): Promise<DeliveryOutcome> {
    const { receivers, ledger, batcher } = this.options;
    if (!receivers || !ledger || !batcher) {
      return refusal(
        'webhooks_not_configured',
        "this gateway cannot take webhooks: SECRETS_KEY is not set (the key that decrypts the connectors' webhook secrets); ask the national operators",
        soon,
      );
    }
    if (this.closing)
      return refusal(
        'shutting_down',
        'this gateway is shutting down; send the delivery again (another gateway, or this one after its restart, takes it)',
        soon,
      );

    const destination = await this.destinationOf(receivers, delivery.connectorId, context);
    if (isRefusal(destination)) return destination;
    const headers = signatureHeadersOf(delivery.headers);
    if (isRefusal(headers)) return headers;
    const receiver = await this.authenticate(receivers, destination.receiver, delivery.body, headers, context);
    if (isRefusal(receiver)) return receiver;
    if (receiver.state === 'paused') {
      return refusal(
        'connector_paused',
        `connector ${receiver.connectorId} is paused, so its deliveries are not taken; send them again once the national operators resume it`,
      );
    }

    // Only an authentic body is parsed.
    const updates = readUpdates(destination.connector, delivery.body, this.maxDepth);
    if (isRefusal(updates)) return updates;
    const mapping = {
      connectorId: receiver.connectorId,
      sourceProvinceCode: receiver.sourceProvinceCode,
      sourceCodeSet: receiver.sourceCodeSet,
      observedAt: delivery.receivedAt,
    };
    const mapped = mapUpdates(destination.connector, updates, mapping);
    return this.enqueueOnce(ledger, batcher, receiver, headers['webhook-id'], delivery.body, mapped, context);
  }

  /** The registered connector a delivery is for, able to take pushes. */
  private async destinationOf(
    receivers: WebhookReceivers,
    id: string,
    context: DeliveryLog,
  ): Promise<Destination | DeliveryRefused> {
    if (!connectorIdPattern.test(id)) {
      return refusal(
        'connector_not_found',
        'there is no connector with this id; expected the id of a registered connector (lowercase letters, digits and dashes) in POST /v1/webhooks/{connectorId}',
      );
    }
    const receiver = await this.lookUp(() => receivers.get(id), id, context);
    if (isRefusal(receiver)) return receiver;
    if (receiver) context.bind(receiver.connectorId, receiver.provinceCode);
    if (!receiver || receiver.state === 'removed') {
      return refusal(
        'connector_not_found',
        `there is no connector ${id}${receiver ? ' any more (it was removed)' : ''}; check the connector id in the webhook URL with the national operators`,
      );
    }
    if (!receiver.connector) {
      context.log.error(
        { err: receiver.buildError },
        'webhook delivery refused: the connector cannot be built on this gateway',
      );
      return refusal(
        'connector_unavailable',
        `connector ${id} cannot be loaded on this gateway right now (a configuration problem, in the gateway log); the delivery was not taken: send it again later`,
        soon,
      );
    }
    if (typeof receiver.connector.webhookItems !== 'function') {
      return refusal(
        'webhooks_not_supported',
        `connector ${id} is of kind ${receiver.kind}, which cannot receive pushed updates; its system is polled instead`,
      );
    }
    return { receiver, connector: receiver.connector };
  }

  /**
   * Verifies the signature over the raw body bytes; gives the receiver as last read (its secrets are read again
   * when none is cached, and when none matches: a secret rotated a moment ago may not be in the cache yet).
   */
  private async authenticate(
    receivers: WebhookReceivers,
    cached: Receiver,
    body: Buffer,
    headers: SignatureHeaders,
    context: DeliveryLog,
  ): Promise<Receiver | DeliveryRefused> {
    const id = cached.connectorId;
    // The library verifies the body decoded as UTF-8 (as every Standard Webhooks library signs text): bytes that
    // are not UTF-8 would be verified as something else than what was sent, so they are refused first.
    if (!isUtf8(body)) return refusal('body_unparseable', 'the body is not valid UTF-8; send JSON encoded in UTF-8');

    let receiver = cached;
    if (receiver.verifiers.length === 0) {
      const fresh = await this.lookUp(() => receivers.refresh(id, secretRefreshMs), id, context);
      if (isRefusal(fresh)) return fresh;
      receiver = fresh ?? receiver;
    }
    if (receiver.secretError) {
      context.log.error(receiver.secretError);
      return refusal(
        'internal',
        "the gateway cannot read this connector's webhook secret; the error is in the gateway log (ask the national operators)",
      );
    }
    if (receiver.verifiers.length === 0) {
      return refusal(
        'webhook_not_enabled',
        `connector ${id} has no webhook secret yet; the national operators issue one with: fleet connector rotate-secret ${id}`,
      );
    }
    let verdict = verify(receiver, body, headers);
    if (verdict === 'mismatch') {
      const fresh = await this.lookUp(() => receivers.refresh(id, secretRefreshMs), id, context);
      if (isRefusal(fresh)) return fresh;
      if (fresh && fresh !== receiver) verdict = verify(fresh, body, headers);
    }
    if (verdict === 'timestamp') {
      return refusal(
        'timestamp_out_of_tolerance',
        "webhook-timestamp is more than 5 minutes from the gateway's clock; sign each attempt (retries too) at the time it is sent, and keep the sending system's clock in time (NTP)",
      );
    }
    if (verdict === 'mismatch') {
      return refusal(
        'signature_invalid',
        `no signature in webhook-signature matches this body, webhook-id and webhook-timestamp under connector ${id}'s secret; sign "<webhook-id>.<webhook-timestamp>.<raw body>" with the current whsec_ secret, and send the body byte for byte as signed`,
      );
    }
    return receiver;
  }

  /**
   * Hands the records and dead letters to the batcher once per delivery (the ledger), and answers only once they
   * are durable: accepted with the counts, or `all_records_invalid` when every update is a dead letter. A retry
   * with the same body gets the recorded answer; the same webhook-id with another body is refused.
   */
  private async enqueueOnce(
    ledger: DeliveryLedger,
    batcher: WebhookBatcher,
    receiver: Receiver,
    webhookId: string,
    body: Buffer,
    mapped: MappedUpdates,
    context: DeliveryLog,
  ): Promise<DeliveryOutcome> {
    const id = receiver.connectorId;
    const { records, deadLetters, problems } = mapped;
    const enqueue = async (): Promise<{ answer: DeliveryAnswer; record: boolean }> => {
      try {
        await batcher.submit(id, receiver.provinceCode, records, deadLetters);
      } catch (error) {
        if (!(error instanceof QueueUnavailableError)) throw error;
        context.log.error({ err: error.message }, 'webhook delivery not acknowledged: the ingest queue is unavailable');
        // Not recorded: a retry is processed afresh.
        return {
          answer: refusal(
            'queue_unavailable',
            'the delivery could not be stored right now (the ingest queue is unavailable); nothing of it was acknowledged: send it again later',
            soon,
          ),
          record: false,
        };
      }
      if (records.length > 0)
        this.options.metrics.webhookRecords.inc({ connector: id, outcome: 'accepted' }, records.length);
      if (deadLetters.length > 0)
        this.options.metrics.webhookRecords.inc({ connector: id, outcome: 'rejected' }, deadLetters.length);
      if (records.length === 0 && deadLetters.length > 0) {
        const detail = `${deadLetters.length === 1 ? 'the update is' : `all ${deadLetters.length} updates are`} invalid, so nothing was applied; each is kept as a dead letter with its reason (listed in errors): fix them at the source and send them again`;
        return { answer: refusal('all_records_invalid', detail, { problems }), record: true };
      }
      return {
        answer: { kind: 'accepted', webhookId, accepted: records.length, rejected: deadLetters.length, problems },
        record: true,
      };
    };

    let outcome;
    try {
      outcome = await ledger.once(id, webhookId, bodyHashOf(body), enqueue);
    } catch (error) {
      if (!(error instanceof LedgerUnavailableError)) throw error;
      context.log.error({ err: error.message }, 'webhook delivery not taken: the idempotency ledger is unavailable');
      return refusal(
        'queue_unavailable',
        'the delivery could not be stored right now (Redis is unavailable); nothing of it was acknowledged: send it again later',
        soon,
      );
    }
    if (outcome.kind === 'in_progress') {
      return refusal(
        'delivery_in_progress',
        'a delivery with this webhook-id is being processed right now; send it again in a few seconds to get its answer',
        soon,
      );
    }
    if (outcome.kind === 'reused') {
      return refusal(
        'webhook_id_reused',
        'this webhook-id was already used for a message with another body, so this message was not applied (nothing of it was taken). ' +
          'Use a unique webhook-id per message — e.g. a UUID made when the message is created, not the dossier code — and the same one only to retry that message, with the same bytes; ' +
          'send this update again under a new webhook-id',
      );
    }
    return outcome.replayed ? { ...outcome.answer, replayed: true } : outcome.answer;
  }

  /** Reads the connector registry; Postgres unavailable → `connector_unavailable`, so the sender retries. */
  private async lookUp<T>(read: () => Promise<T>, id: string, context: DeliveryLog): Promise<T | DeliveryRefused> {
    try {
      return await read();
    } catch (error) {
      context.log.error(
        { err: error instanceof Error ? error.message : String(error) },
        'webhook delivery refused: cannot read the connector registry',
      );
      return refusal(
        'connector_unavailable',
        `connector ${id} cannot be looked up right now (the registry database is unavailable); the delivery was not taken: send it again later`,
        soon,
      );
    }
  }
}
