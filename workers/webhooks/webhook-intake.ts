import { MappedPaths } from '../../connectors/sdk/mapped-paths.js';
import { isUtf8 } from 'node:buffer';
import { WebhookVerificationError } from 'standardwebhooks';
import { WebhookBodyError } from '../../connectors/sdk/connector.js';
import type { DossierRecord } from '../../connectors/sdk/dossier-record.js';
import { readPath } from '../../connectors/declarative/json-path.js';
import type { Connector } from '../../connectors/sdk/connector.js';
import { MappingError } from '../../connectors/sdk/mapping-error.js';
import { mapItems, toDeadLetter, type DeadLetter, type MappedBatch, type MappingContext } from '../../connectors/sdk/normalise.js';
import { normaliseText } from '../../connectors/sdk/text.js';
import type { Logger } from '../logger.js';
import type { FleetMetrics } from '../metrics.js';
import { problem, type Problem } from '../http/problem.js';
import { bodyHashOf, LedgerUnavailableError, type DeliveryLedger, type RecordedAnswer } from './delivery-ledger.js';
import { findPrototypeKey, type PrototypeKeyPlace } from './prototype-keys.js';
import { JsonBodyError, parseStrictJson, type ParsedJson } from './strict-json.js';
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

/** The HTTP answer to a delivery: 202 with counts, or a problem. */
export interface WebhookAnswer {
  status: number;
  body: Record<string, unknown>;
  headers?: Record<string, string>;
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

const connectorIdPattern = /^[a-z0-9][a-z0-9-]{0,62}$/;
const webhookIdPattern = /^[\x21-\x7e]{1,256}$/;
const signaturePattern = /^v1,[A-Za-z0-9+/]{43}=$/;
/** Per-record problems listed in an answer at most; the rest are counted. */
const maxErrorLines = 100;
/** A signature that matches no cached secret makes the gateway read the secrets again, at most this often. */
const secretRefreshMs = 1_000;

function header(headers: WebhookDelivery['headers'], name: string): string | undefined {
  const value = headers[name];
  const text = Array.isArray(value) ? value.join(', ') : value;
  return text === undefined || text.trim() === '' ? undefined : text.trim();
}

/** A refusal: a problem answer and the outcome it counts as. */
class Refusal {
  constructor(readonly problem: Problem) {}
}

const refuse = (status: number, code: string, detail: string, errors?: string[]): Refusal => new Refusal(problem(status, code, detail, errors ? { errors } : {}));

const prototypeKeyRule = 'no dossier field is named so, and in JavaScript such a key reaches an object\'s prototype';

/**
 * The dead letter of an update holding a prototype key: `malformed_record`, naming the key and where it is,
 * and the dossier when the update's code can be read (own properties only, at the path the connector maps it from).
 */
function prototypeKeyLetter(connector: Connector, item: unknown, place: PrototypeKeyPlace, mapping: MappingContext): DeadLetter {
  const codePath = connector.mappedFields().find((source) => source.field === 'dossierCode')?.path;
  const code = codePath === undefined ? undefined : readPath(item, codePath);
  const dossierCode = typeof code === 'string' ? normaliseText(code) : null;
  const message = `the update holds the key ${JSON.stringify(place.key)} (at ${place.path}), which is refused: ${prototypeKeyRule}; the update was not applied: remove the key at the source`;
  return toDeadLetter(new MappingError('malformed_record', message, dossierCode && dossierCode.length <= 100 ? dossierCode : null), item, mapping, mapping.observedAt.toISOString(), MappedPaths.of(connector));
}

/**
 * Takes webhook deliveries (DESIGN.md: Standard Webhooks): authenticates them against the connector's secrets
 * with the `standardwebhooks` library, on the raw body bytes; parses the body strictly only once it is
 * authentic; maps its updates with the connector (the polling machinery: `webhookItems`, then `mapItems`);
 * hands records and dead letters to the batcher; and answers 202 only once they are durable in the queue.
 * A retried delivery (same webhook-id) gets the same answer from the ledger and is not applied again.
 */
export class WebhookIntake {
  private closing = false;
  private readonly inFlight = new Set<Promise<WebhookAnswer>>();
  private readonly maxDepth: number;

  constructor(private readonly options: WebhookIntakeOptions) {
    this.maxDepth = options.maxDepth ?? 64;
  }

  /** Answers one delivery; never throws. */
  handle(delivery: WebhookDelivery): Promise<WebhookAnswer> {
    const answer = this.answer(delivery);
    this.inFlight.add(answer);
    void answer.finally(() => this.inFlight.delete(answer));
    return answer;
  }

  /** Counts a delivery refused before it reached the intake (body too large, wrong media type). */
  countRefused(connectorId: string, code: string): void {
    this.options.metrics.webhookDeliveries.inc({ connector: this.connectorLabel(connectorId), outcome: code });
  }

  /** Refuses new deliveries (503), then waits for those in hand to be acknowledged and for the batcher to drain. */
  async close(): Promise<void> {
    this.closing = true;
    await Promise.allSettled([...this.inFlight]);
    await this.options.batcher?.close();
  }

  private connectorLabel(connectorId: string): string {
    // Only registered connectors become label values: made-up ids must not grow the metric without bound.
    return this.options.receivers?.isKnown(connectorId) ? connectorId : '(unknown)';
  }

  private async answer(delivery: WebhookDelivery): Promise<WebhookAnswer> {
    const { metrics, logger } = this.options;
    let outcome = 'accepted';
    try {
      const result = await this.process(delivery);
      outcome = result.replayed ? 'replayed' : result.answer.status === 202 ? 'accepted' : String(result.answer.body.code ?? result.answer.status);
      return { status: result.answer.status, body: result.answer.body, headers: result.replayed ? { 'idempotent-replayed': 'true' } : {} };
    } catch (error) {
      if (error instanceof Refusal) {
        outcome = error.problem.code;
        const level = error.problem.status >= 500 ? 'error' : 'info';
        logger[level]({ connector: delivery.connectorId.slice(0, 64), code: error.problem.code, status: error.problem.status }, 'webhook delivery refused');
        const headers: Record<string, string> = error.problem.status === 503 || error.problem.code === 'delivery_in_progress' ? { 'retry-after': '5' } : {};
        return { status: error.problem.status, body: { ...error.problem }, headers };
      }
      outcome = 'internal';
      logger.error({ connector: delivery.connectorId.slice(0, 64), err: error instanceof Error ? error.message : String(error) }, 'webhook delivery failed');
      return { status: 500, body: { ...problem(500, 'internal', 'the delivery could not be processed; it was not acknowledged, so send it again later (the error is in the gateway log)') } };
    } finally {
      metrics.webhookDeliveries.inc({ connector: this.connectorLabel(delivery.connectorId), outcome });
    }
  }

  private async process(delivery: WebhookDelivery): Promise<{ answer: RecordedAnswer; replayed: boolean }> {
    const { receivers, ledger, batcher } = this.options;
    const id = delivery.connectorId;
    if (!receivers || !ledger || !batcher) {
      throw refuse(503, 'webhooks_not_configured', 'this gateway cannot take webhooks: SECRETS_KEY is not set (the key that decrypts the connectors\' webhook secrets); ask the national operators');
    }
    if (this.closing) throw refuse(503, 'shutting_down', 'this gateway is shutting down; send the delivery again (another gateway, or this one after its restart, takes it)');

    if (!connectorIdPattern.test(id)) throw refuse(404, 'connector_not_found', 'there is no connector with this id; expected the id of a registered connector (lowercase letters, digits and dashes) in POST /v1/webhooks/{connectorId}');
    let receiver = await this.lookUp(() => receivers.get(id), id);
    if (!receiver || receiver.state === 'removed') {
      throw refuse(404, 'connector_not_found', `there is no connector ${id}${receiver ? ' any more (it was removed)' : ''}; check the connector id in the webhook URL with the national operators`);
    }
    const connector = this.connectorOf(receiver);

    const webhookId = header(delivery.headers, 'webhook-id');
    const timestamp = header(delivery.headers, 'webhook-timestamp');
    const signature = header(delivery.headers, 'webhook-signature');
    if (webhookId === undefined) {
      throw refuse(401, 'webhook_id_missing', 'the webhook-id header is missing; send a unique id per message, the same on every retry of it (Standard Webhooks)');
    }
    if (signature === undefined || timestamp === undefined) {
      const missing = [signature === undefined ? 'webhook-signature' : null, timestamp === undefined ? 'webhook-timestamp' : null].filter(Boolean).join(' and ');
      throw refuse(401, 'signature_missing', `the ${missing} header${missing.includes(' and ') ? 's are' : ' is'} missing; sign each delivery as Standard Webhooks says, with the connector's whsec_ secret`);
    }
    if (!webhookIdPattern.test(webhookId)) throw refuse(401, 'signature_invalid', 'webhook-id: expected 1 to 256 visible ASCII characters');
    if (!/^\d{1,15}$/.test(timestamp)) throw refuse(401, 'signature_invalid', 'webhook-timestamp: expected the time of signing in whole seconds since 1970 (unix time)');
    if (!signature.split(' ').some((part) => signaturePattern.test(part))) {
      throw refuse(401, 'signature_invalid', 'webhook-signature: expected one or more "v1,<base64 HMAC-SHA256>" separated by spaces');
    }

    // The library verifies the body decoded as UTF-8 (as every Standard Webhooks library signs text): bytes that
    // are not UTF-8 would be verified as something else than what was sent, so they are refused first.
    if (!isUtf8(delivery.body)) throw refuse(400, 'body_unparseable', 'the body is not valid UTF-8; send JSON encoded in UTF-8');

    if (receiver.verifiers.length === 0) receiver = (await this.lookUp(() => receivers.refresh(id, secretRefreshMs), id)) ?? receiver;
    if (receiver.secretError) {
      this.options.logger.error({ connector: id }, receiver.secretError);
      throw refuse(500, 'internal', 'the gateway cannot read this connector\'s webhook secret; the error is in the gateway log (ask the national operators)');
    }
    if (receiver.verifiers.length === 0) {
      throw refuse(401, 'webhook_not_enabled', `connector ${id} has no webhook secret yet; the national operators issue one with: fleet connector rotate-secret ${id}`);
    }
    const headers = { 'webhook-id': webhookId, 'webhook-timestamp': timestamp, 'webhook-signature': signature };
    let verdict = this.verify(receiver, delivery.body, headers);
    if (verdict === 'mismatch') {
      // A secret rotated a moment ago may not be in the cache yet.
      const fresh = await this.lookUp(() => receivers.refresh(id, secretRefreshMs), id);
      if (fresh && fresh !== receiver) verdict = this.verify(fresh, delivery.body, headers);
    }
    if (verdict === 'timestamp') {
      throw refuse(401, 'timestamp_out_of_tolerance', 'webhook-timestamp is more than 5 minutes from the gateway\'s clock; sign each attempt (retries too) at the time it is sent, and keep the sending system\'s clock in time (NTP)');
    }
    if (verdict === 'mismatch') {
      throw refuse(401, 'signature_invalid', `no signature in webhook-signature matches this body, webhook-id and webhook-timestamp under connector ${id}'s secret; sign "<webhook-id>.<webhook-timestamp>.<raw body>" with the current whsec_ secret, and send the body byte for byte as signed`);
    }

    if (receiver.state === 'paused') {
      throw refuse(409, 'connector_paused', `connector ${id} is paused, so its deliveries are not taken; send them again once the national operators resume it`);
    }

    // Only an authentic body is parsed.
    let parsed: ParsedJson;
    try {
      parsed = parseStrictJson(delivery.body.toString('utf8').replace(/^\uFEFF/, ''), this.maxDepth);
    } catch (error) {
      if (error instanceof JsonBodyError) throw refuse(400, 'body_unparseable', error.message);
      throw error;
    }
    const { value: document, hasPrototypeKeys } = parsed;
    let items: unknown[];
    try {
      items = connector.webhookItems!(document);
    } catch (error) {
      if (error instanceof WebhookBodyError) throw refuse(400, 'body_unparseable', error.message);
      throw error;
    }
    if (hasPrototypeKeys) {
      // A prototype key inside an update makes that update a dead letter (below); one around the updates
      // belongs to no update, so the delivery as a whole is refused.
      const outside = findPrototypeKey(document, new Set(items));
      if (outside) {
        throw refuse(
          400,
          'body_unparseable',
          `the body is valid JSON, but it holds the key ${JSON.stringify(outside.key)} at $${outside.path.startsWith('[') ? '' : '.'}${outside.path}, outside the updates: ${prototypeKeyRule}, so nothing of the delivery was taken; remove the key and send it again`,
        );
      }
    }

    const mapping: MappingContext = { connectorId: id, sourceProvinceCode: receiver.sourceProvinceCode, sourceCodeSet: receiver.sourceCodeSet, observedAt: delivery.receivedAt };
    const records: DossierRecord[] = [];
    const deadLetters: DeadLetter[] = [];
    const errors: string[] = [];
    items.forEach((item, index) => {
      const place = hasPrototypeKeys ? findPrototypeKey(item) : null;
      // Such an update never reaches the connector's `map`: it is kept as it came (redacted), with its reason.
      const mapped: MappedBatch = place ? { records: [], deadLetters: [prototypeKeyLetter(connector, item, place, mapping)] } : mapItems(connector, [item], mapping);
      records.push(...mapped.records);
      for (const letter of mapped.deadLetters) {
        deadLetters.push(letter);
        if (errors.length < maxErrorLines) {
          errors.push(`${items.length > 1 || Array.isArray(document) ? `$[${index}]` : '$'}${letter.dossierCode ? ` (dossier ${letter.dossierCode})` : ''}: ${letter.reason}: ${letter.message}`);
        }
      }
    });
    if (deadLetters.length > maxErrorLines) errors.push(`… and ${deadLetters.length - maxErrorLines} more`);

    const outcome = await this.withLedger(() => ledger.once(ledger.keyOf(id, webhookId), bodyHashOf(delivery.body), async () => {
      try {
        await batcher.submit(id, receiver.provinceCode, records, deadLetters);
      } catch (error) {
        if (error instanceof QueueUnavailableError) {
          this.options.logger.error({ connector: id, err: error.message }, 'webhook delivery not acknowledged: the ingest queue is unavailable');
          throw refuse(503, 'queue_unavailable', 'the delivery could not be stored right now (the ingest queue is unavailable); nothing of it was acknowledged: send it again later');
        }
        throw error;
      }
      if (records.length > 0) this.options.metrics.webhookRecords.inc({ connector: id, outcome: 'accepted' }, records.length);
      if (deadLetters.length > 0) this.options.metrics.webhookRecords.inc({ connector: id, outcome: 'rejected' }, deadLetters.length);
      if (records.length === 0 && deadLetters.length > 0) {
        const detail = `${deadLetters.length === 1 ? 'the update is' : `all ${deadLetters.length} updates are`} invalid, so nothing was applied; each is kept as a dead letter with its reason (listed in errors): fix them at the source and send them again`;
        return { answer: { status: 422, body: { ...problem(422, 'all_records_invalid', detail, { errors, instance: `/v1/webhooks/${id}` }) } }, record: true };
      }
      const body: Record<string, unknown> = { webhookId, accepted: records.length, rejected: deadLetters.length };
      if (errors.length > 0) body.errors = errors;
      return { answer: { status: 202, body }, record: true };
    }));
    if (outcome.kind === 'in_progress') {
      throw refuse(409, 'delivery_in_progress', `a delivery with this webhook-id is being processed right now; send it again in a few seconds to get its answer`);
    }
    if (outcome.kind === 'reused') {
      throw refuse(
        409,
        'webhook_id_reused',
        'this webhook-id was already used for a message with another body, so this message was not applied (nothing of it was taken). ' +
          'Use a unique webhook-id per message — e.g. a UUID made when the message is created, not the dossier code — and the same one only to retry that message, with the same bytes; ' +
          'send this update again under a new webhook-id',
      );
    }
    return outcome;
  }

  /** Reads the connector registry; Postgres unavailable → 503, so the sender retries. */
  private async lookUp<T>(read: () => Promise<T>, id: string): Promise<T> {
    try {
      return await read();
    } catch (error) {
      this.options.logger.error({ connector: id, err: error instanceof Error ? error.message : String(error) }, 'webhook delivery refused: cannot read the connector registry');
      throw refuse(503, 'connector_unavailable', `connector ${id} cannot be looked up right now (the registry database is unavailable); the delivery was not taken: send it again later`);
    }
  }

  /** Runs the ledger; Redis unavailable → 503 `queue_unavailable` (nothing was acknowledged). */
  private async withLedger<T>(run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      if (!(error instanceof LedgerUnavailableError)) throw error;
      this.options.logger.error({ err: error.message }, 'webhook delivery not taken: the idempotency ledger is unavailable');
      throw refuse(503, 'queue_unavailable', 'the delivery could not be stored right now (Redis is unavailable); nothing of it was acknowledged: send it again later');
    }
  }

  private connectorOf(receiver: Receiver) {
    if (!receiver.connector) {
      this.options.logger.error({ connector: receiver.connectorId, err: receiver.buildError }, 'webhook delivery refused: the connector cannot be built on this gateway');
      throw refuse(503, 'connector_unavailable', `connector ${receiver.connectorId} cannot be loaded on this gateway right now (a configuration problem, in the gateway log); the delivery was not taken: send it again later`);
    }
    if (typeof receiver.connector.webhookItems !== 'function') {
      throw refuse(404, 'webhooks_not_supported', `connector ${receiver.connectorId} is of kind ${receiver.kind}, which cannot receive pushed updates; its system is polled instead`);
    }
    return receiver.connector;
  }

  /** Checks the signature with each accepted secret (several during a rotation). */
  private verify(receiver: Receiver, body: Buffer, headers: Record<string, string>): 'ok' | 'timestamp' | 'mismatch' {
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
}
