/**
 * Every machine code the system emits, declared once: what clients, alert rules, `fleet` and the README match on.
 * A code a request is answered with has its HTTP status and the title its problem carries (the status's phrase,
 * as every problem has had); a dead letter's reason is never an HTTP answer by itself, so it has a title only.
 * The README's code tables are tested against this catalogue (test/config/error-catalogue-matches-the-readme).
 */

/** A code a request can be refused or fail with: the HTTP status it is answered with, and its problem's title. */
export interface RequestErrorEntry {
  readonly status: number;
  readonly title: string;
}

/** Why a record became a dead letter, in a few words. */
export interface DeadLetterReasonEntry {
  readonly title: string;
}

/** The codes a request is answered with: by the webhook intake, the admin API, the control plane and `/readyz`. */
export const requestErrors = {
  // Any HTTP front end.
  not_found: { status: 404, title: 'Not Found' },
  payload_too_large: { status: 413, title: 'Payload Too Large' },
  unsupported_media_type: { status: 415, title: 'Unsupported Media Type' },
  internal: { status: 500, title: 'Internal Server Error' },

  // Webhook deliveries (POST /v1/webhooks/{connectorId}).
  webhooks_not_configured: { status: 503, title: 'Service Unavailable' },
  shutting_down: { status: 503, title: 'Service Unavailable' },
  connector_not_found: { status: 404, title: 'Not Found' },
  connector_unavailable: { status: 503, title: 'Service Unavailable' },
  webhooks_not_supported: { status: 404, title: 'Not Found' },
  webhook_id_missing: { status: 401, title: 'Unauthorized' },
  signature_missing: { status: 401, title: 'Unauthorized' },
  signature_invalid: { status: 401, title: 'Unauthorized' },
  timestamp_out_of_tolerance: { status: 401, title: 'Unauthorized' },
  webhook_not_enabled: { status: 401, title: 'Unauthorized' },
  body_unparseable: { status: 400, title: 'Bad Request' },
  connector_paused: { status: 409, title: 'Conflict' },
  delivery_in_progress: { status: 409, title: 'Conflict' },
  webhook_id_reused: { status: 409, title: 'Conflict' },
  all_records_invalid: { status: 422, title: 'Unprocessable Entity' },
  queue_unavailable: { status: 503, title: 'Service Unavailable' },

  // The admin API (/v1/admin).
  invalid_request: { status: 400, title: 'Bad Request' },
  // Passes on the status of a request fastify refused (always a 4xx): see `problem`.
  bad_request: { status: 400, title: 'Bad Request' },
  unauthorized: { status: 401, title: 'Unauthorized' },
  forbidden: { status: 403, title: 'Forbidden' },
  // The admin and read APIs: a key over its rate limit (API_RATE_LIMIT_PER_SECOND), answered with Retry-After.
  rate_limited: { status: 429, title: 'Too Many Requests' },
  invalid_definition: { status: 422, title: 'Unprocessable Entity' },

  // The read API of the national portal (/v1/dossiers).
  province_not_found: { status: 404, title: 'Not Found' },
  dossier_not_found: { status: 404, title: 'Not Found' },
  invalid_cursor: { status: 400, title: 'Bad Request' },
  cursor_mismatch: { status: 400, title: 'Bad Request' },
  cursor_expired: { status: 410, title: 'Gone' },

  // The control plane (registry and check), answered over the admin API; `not_found` above is the registry's too.
  conflict: { status: 409, title: 'Conflict' },
  sample_required: { status: 422, title: 'Unprocessable Entity' },
  pushes_not_supported: { status: 422, title: 'Unprocessable Entity' },
  backfill_not_supported: { status: 422, title: 'Unprocessable Entity' },

  // Readiness (/health/ready, /readyz): the answer's status, and the code of the check that failed.
  not_ready: { status: 503, title: 'Service Unavailable' },
  postgres_unreachable: { status: 503, title: 'Service Unavailable' },
  redis_unreachable: { status: 503, title: 'Service Unavailable' },
  migrations_pending: { status: 503, title: 'Service Unavailable' },
} as const satisfies Record<string, RequestErrorEntry>;

/** Why a source record was kept as a dead letter instead of stored. */
export const deadLetterReasons = {
  unknown_status: { title: 'the status is not one the connector maps to a national status code' },
  missing_field: { title: 'a required field is absent' },
  bad_date: { title: 'a date cannot be read, or is outside the years 0001 to 9999' },
  bad_province: { title: 'the province code is not one of the code set' },
  bad_value: { title: 'a value is of the wrong type, too long, or holds text Postgres cannot store' },
  // Also an update holding a prototype key (`__proto__`, `constructor`, `prototype`), and a `map` that failed
  // otherwise.
  malformed_record: { title: 'the record cannot be mapped at all' },
  // The writer's, not a mapping's: a record the database refused although it passed mapping (DESIGN.md guarantee 4).
  unstorable: { title: 'the database refused the record' },
} as const satisfies Record<string, DeadLetterReasonEntry>;

/** A code a request can be refused or fail with. */
export type RequestErrorCode = keyof typeof requestErrors;
/** Why a record became a dead letter: a stable machine code provincial IT teams and alert rules match on. */
export type DeadLetterReason = keyof typeof deadLetterReasons;
/** Any machine code of the system. */
export type ErrorCode = RequestErrorCode | DeadLetterReason;

// A code is declared once: a request error is never also a dead letter's reason.
const disjoint: [RequestErrorCode & DeadLetterReason] extends [never] ? true : false = true;
void disjoint;

/** The whole catalogue, by code. */
export const errorCatalogue: Readonly<Record<ErrorCode, RequestErrorEntry | DeadLetterReasonEntry>> = {
  ...requestErrors,
  ...deadLetterReasons,
};

/** Whether `value` is a code of the catalogue (own keys only: `constructor` is not a code). */
export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(errorCatalogue, value);
}

/** Whether `value` is a code a request can be answered with. */
export function isRequestErrorCode(value: unknown): value is RequestErrorCode {
  return typeof value === 'string' && Object.hasOwn(requestErrors, value);
}

/** An Error that carries a catalogue code, e.g. a RegistryError: a front end can name it by `code`. */
export type CodedError = Error & { readonly code: ErrorCode };

/**
 * Whether `error` is an Error carrying a catalogue `code` (a Node or driver error's `ECONNREFUSED`, `23505` is not).
 */
export function isCodedError(error: unknown): error is CodedError {
  return error instanceof Error && isErrorCode((error as { code?: unknown }).code);
}

/** The HTTP status a request refused with this code is answered with; undefined for a dead-letter reason. */
export function statusOfCode(code: string): number | undefined {
  return isRequestErrorCode(code) ? requestErrors[code].status : undefined;
}
