import type { RequestErrorCode } from '../../config/error-catalogue.js';

/** The delivery was taken: its accepted updates are durable in the ingest queue, the rest kept as dead letters. */
export interface DeliveryAccepted {
  kind: 'accepted';
  webhookId: string;
  /** Updates taken as records. */
  accepted: number;
  /** Updates kept as dead letters, each with its reason. */
  rejected: number;
  /** One line per rejected update (where, dossier, reason, what is expected), at most 100, then a count. */
  problems: string[];
}

/** The delivery was refused, with a code of the error catalogue and what the sender should do, in `detail`. */
export interface DeliveryRefused {
  kind: 'refused';
  code: RequestErrorCode;
  /** What is wrong and what is expected, worded for the province system's team. */
  detail: string;
  /** One line per rejected update, when the refusal is about its updates (`all_records_invalid`). */
  problems?: string[];
  /** Nothing is wrong with the delivery itself: the same one, sent again after this many seconds, may be taken. */
  retryAfterSeconds?: number;
}

/** What a delivery came to; the ledger keeps it for the retries of the delivery. */
export type DeliveryAnswer = DeliveryAccepted | DeliveryRefused;

/** A delivery's answer; `replayed` when it is the one recorded for an earlier copy (same webhook-id and body). */
export type DeliveryOutcome = DeliveryAnswer & { replayed?: true };

/** A refusal of a delivery. */
export function refusal(
  code: RequestErrorCode,
  detail: string,
  more: Pick<DeliveryRefused, 'problems' | 'retryAfterSeconds'> = {},
): DeliveryRefused {
  return { kind: 'refused', code, detail, ...more };
}

/** Whether `value` is a refusal: the steps of the intake return one instead of what they were to find. */
export function isRefusal(value: unknown): value is DeliveryRefused {
  return typeof value === 'object' && value !== null && (value as { kind?: unknown }).kind === 'refused';
}

/**
 * The answer in a ledger record written by a gateway of the previous version, which kept the HTTP body it sent:
 * a problem (it has a `code`) was a refusal, anything else the counts of a taken delivery. Read so that a retry of
 * a delivery answered before an upgrade gets the same answer after it.
 */
export function answerOfRecordedBody(body: Record<string, unknown>): DeliveryAnswer {
  const problems = Array.isArray(body.errors) ? body.errors.map(String) : undefined;
  if (typeof body.code === 'string') {
    return refusal(body.code as RequestErrorCode, String(body.detail ?? ''), problems ? { problems } : {});
  }
  return {
    kind: 'accepted',
    webhookId: String(body.webhookId),
    accepted: Number(body.accepted),
    rejected: Number(body.rejected),
    problems: problems ?? [],
  };
}
