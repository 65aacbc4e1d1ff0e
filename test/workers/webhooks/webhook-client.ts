import { createHmac, randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import { Webhook } from 'standardwebhooks';
import { saveConnector } from '../../../db/queries/connectors.js';
import { rotateWebhookSecret } from '../../../db/queries/webhook-secrets.js';
import type { Database } from '../../../db/schema.js';
import type { FleetMetrics } from '../../../workers/metrics.js';
import { generateWebhookSecret, SecretBox } from '../../../workers/webhooks/secret-box.js';
import { waitFor } from '../../support/test-environment.js';

/** A fresh SECRETS_KEY for a test environment. */
export const testSecretsKey = () => randomBytes(32).toString('base64');

/** Registers a national-rest connector (its system pushes in the national naming) and issues its webhook secret. */
export async function registerWebhookConnector(
  db: Kysely<Database>,
  secretsKey: string,
  id: string,
  province = '01',
): Promise<string> {
  await saveConnector(db, {
    id,
    sourceProvinceCode: province,
    sourceCodeSet: '2025',
    kind: 'national-rest',
    config: { baseUrl: 'http://127.0.0.1:9', pageSize: 100 },
    pollIntervalMs: 3_600_000,
  });
  return issueSecret(db, secretsKey, id, 86_400);
}

/** Rotates a connector's webhook secret as `fleet connector rotate-secret` does; returns the new secret. */
export async function issueSecret(
  db: Kysely<Database>,
  secretsKey: string,
  id: string,
  graceSeconds: number,
): Promise<string> {
  const secret = generateWebhookSecret();
  const outcome = await rotateWebhookSecret(db, id, new SecretBox(secretsKey).seal(secret, id), graceSeconds);
  if (outcome.status !== 'rotated') throw new Error(`cannot rotate ${id}: ${outcome.status}`);
  return secret;
}

/** One update in the national portal's naming: what a province system in that dialect pushes. */
export function nationalUpdate(code: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    MaHoSo: code,
    MaTinh: '01',
    MaTTHC: '2.000477',
    MaLinhVuc: 'G09-TP',
    DonViXuLy: '000.00.01.H01',
    KenhThucHien: 2,
    LoaiDoiTuong: 1,
    TrangThaiHoSo: '4',
    NgayNopHoSo: '20261120083000',
    NgayTiepNhan: '20261120090000',
    NgayHenTra: '20261204170000',
    NgayCapNhat: '20261127080000',
    PhienBan: 1,
    ChuHoSo: 'Nguyễn Văn An',
    SoGiayToChuHoSo: '001099012345',
    ...overrides,
  };
}

/** A delivery as it goes on the wire: the raw body and its headers. */
export interface Delivery {
  body: Buffer | string | undefined;
  headers: Record<string, string>;
}

let sequence = 0;
/** A webhook-id no other delivery of this test run uses. */
export const newWebhookId = () => `msg_${process.pid}_${Date.now()}_${++sequence}`;

/** Signs a body as a vendor does with the Standard Webhooks reference library. */
export function signed(
  secret: string,
  body: unknown,
  options: { id?: string; at?: Date; contentType?: string } = {},
): Delivery {
  const raw = typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
  const id = options.id ?? newWebhookId();
  const at = options.at ?? new Date();
  return {
    body: raw,
    headers: {
      'content-type': options.contentType ?? 'application/json',
      'webhook-id': id,
      'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
      'webhook-signature': new Webhook(secret).sign(id, at, raw),
    },
  };
}

/** An HMAC-SHA256 signature over exactly these bytes, as a vendor signing by hand would compute it. */
export function signBytes(secret: string, id: string, timestamp: string, body: Buffer): string {
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  return `v1,${createHmac('sha256', key).update(`${id}.${timestamp}.`).update(body).digest('base64')}`;
}

/** What the gateway answered. */
export interface Answer {
  status: number;
  type: string | null;
  headers: Headers;
  body: Record<string, unknown>;
}

/** POSTs a delivery to `/v1/webhooks/{connectorId}`. */
export async function deliver(baseUrl: string, connectorId: string, delivery: Delivery): Promise<Answer> {
  const response = await fetch(`${baseUrl}/v1/webhooks/${connectorId}`, {
    method: 'POST',
    headers: delivery.headers,
    ...(delivery.body !== undefined ? { body: delivery.body } : {}),
  });
  const text = await response.text();
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    body = { text };
  }
  return { status: response.status, type: response.headers.get('content-type'), headers: response.headers, body };
}

/** The sum of a counter's values (over all labels), read from a fleet's metrics. */
async function total(counter: { get(): Promise<{ values: { value: number }[] }> }): Promise<number> {
  return (await counter.get()).values.reduce((sum, { value }) => sum + value, 0);
}

/**
 * Waits until the writer of an in-process fleet has committed every record and dead letter its gateways
 * accepted: the gateways' `webhook_records` against the writer's written and rejected records. Only the queue's
 * two ends are looked at, never its inside. Returns both totals.
 */
export async function writerCaughtUp(
  writer: FleetMetrics,
  gateways: FleetMetrics[] = [writer],
  timeoutMs = 20_000,
): Promise<{ accepted: number; committed: number }> {
  let counts = { accepted: 0, committed: 0 };
  await waitFor(
    async () => {
      let accepted = 0;
      for (const gateway of gateways) accepted += await total(gateway.webhookRecords);
      counts = { accepted, committed: (await total(writer.recordsWritten)) + (await total(writer.recordsRejected)) };
      return counts.committed >= counts.accepted;
    },
    'the writer committed every accepted record',
    timeoutMs,
    20,
  );
  return counts;
}
