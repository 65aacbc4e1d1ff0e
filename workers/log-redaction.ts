/**
 * What the fleet's logger redacts, in one place (README "Logs"). Log lines carry ids and reasons, never records:
 * personal data and secrets are kept out by never passing them. These lists are the second fence, applied by
 * configuration to every line's fields and every child logger's bindings (workers/logger.ts): a value under one of
 * these keys — a text, a number, an object, a list, whatever its shape, at whatever depth — is written as
 * `[redacted]`. pino's `redact` takes the keys at the top of a line (`redactPaths`); its wildcard paths cost about
 * 40 µs a line per level of depth, so the levels below are the logger's formatters' (`redactFields`), one walk of
 * the line for every key at once.
 */

/** What a redacted value is written as. */
export const redactionCensor = '[redacted]';

/**
 * Field names of applicants' personal data in vendor payloads (shared/domain.md "Personal data"; the national
 * naming, the igate, dvc and lgsp dialects) and of an official's, plus the containers a whole record or its
 * applicant travels in. Exact names: pino matches keys as written.
 */
export const personalDataKeys = [
  // the national naming
  'ChuHoSo',
  'SoGiayToChuHoSo',
  'DinhDanhCHS',
  'SoDienThoai',
  'DiaChi',
  'Email',
  'NgaySinh',
  'NguoiXuLy',
  'CanBoXuLy',
  // lgsp
  'NguoiNop',
  'HoTen',
  'HoVaTen',
  'SoDinhDanh',
  'MaDinhDanh',
  'DienThoai',
  'TenCongDan',
  'SoCCCD',
  'SoCMND',
  'SoHoChieu',
  // dvc
  'nguoi_nop',
  'ho_ten',
  'so_cccd',
  'dien_thoai',
  'dia_chi',
  // igate, and English names
  'applicant',
  'fullName',
  'identityNumber',
  'idNumber',
  'nationalId',
  'passport',
  'phone',
  'phoneNumber',
  'mobile',
  'email',
  'address',
  'dateOfBirth',
  'birthDate',
  // a record or payload as a whole: never a log field
  'record',
  'rawRecord',
  'payload',
  'rawPayload',
  'raw_payload',
  'body',
  'rawBody',
] as const;

/** Names of secrets: keys, passwords, tokens, request headers that carry them, and the connection URLs. */
export const secretKeys = [
  'apiKey',
  'api_key',
  'apikey',
  'password',
  'passwd',
  'secret',
  'secrets',
  'webhookSecret',
  'clientSecret',
  'client_secret',
  'token',
  'accessToken',
  'access_token',
  'refreshToken',
  'refresh_token',
  'privateKey',
  'authorization',
  'Authorization',
  'proxy-authorization',
  'cookie',
  'set-cookie',
  'x-api-key',
  'X-Api-Key',
  'webhook-signature',
  'SECRETS_KEY',
  'SECRETS_KEYS',
  'DATABASE_URL',
  'REDIS_URL',
  'databaseUrl',
  'redisUrl',
  'connectionString',
] as const;

/** The listed keys, as they are matched below the top of a line: whatever their case (`Authorization`, `EMAIL`). */
const redactedKeys: ReadonlySet<string> = new Set([...personalDataKeys, ...secretKeys].map((key) => key.toLowerCase()));

/** Whether a key is one whose value is redacted. */
export function isRedactedKey(key: string): boolean {
  return redactedKeys.has(key.toLowerCase());
}

/** pino's `redact` paths: every listed key at the top of a line, as pino writes a path (`["x-api-key"]`). */
export const redactPaths: readonly string[] = [...personalDataKeys, ...secretKeys].map((key) =>
  /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(key) ? key : `[${JSON.stringify(key)}]`,
);

/** pino's `redact` option. */
export const logRedaction = { paths: [...redactPaths], censor: redactionCensor };

/** Levels of objects and lists a line shows; a container deeper than that is redacted whole (nothing logs one). */
export const maxLoggedDepth = 10;

/** Credentials of a URL in a text (`redis://user:password@host`), cut out wherever they appear. */
const urlCredentials = /\/\/[^/@\s"'<>]*@/g;

/** A text with the credentials of any URL in it cut out. */
export function withoutUrlCredentials(text: string): string {
  return text.includes('@') ? text.replace(urlCredentials, '//[redacted]@') : text;
}

/**
 * A copy of a line's fields (or a child's bindings) as they may be written: the value of every listed key replaced
 * by `[redacted]` at any depth, a container deeper than `maxLoggedDepth` too, and the credentials of any URL in a
 * text — a key or a value — cut out. Read as JSON.stringify reads (toJSON first); an error stays an error (its
 * message, stack and cause scrubbed) for pino's error serializer.
 */
export function redactFields(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return withoutUrlCredentials(value);
  if (value === null || typeof value !== 'object' || value instanceof Date || ArrayBuffer.isView(value)) return value;
  if (depth >= maxLoggedDepth) return redactionCensor;
  if (value instanceof Error) {
    const own = { ...value, message: value.message, stack: value.stack };
    const scrubbed = redactFields(value.cause === undefined ? own : { ...own, cause: value.cause }, depth);
    return Object.assign(Object.create(Object.getPrototypeOf(value) as object) as Error, scrubbed);
  }
  const toJSON = (value as { toJSON?: unknown }).toJSON;
  if (typeof toJSON === 'function') return redactFields((toJSON as () => unknown).call(value), depth);
  if (Array.isArray(value)) return value.map((item: unknown) => redactFields(item, depth + 1));
  const copy: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value))
    Object.defineProperty(copy, withoutUrlCredentials(key), {
      value: isRedactedKey(key) ? redactionCensor : redactFields(item, depth + 1),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  return copy;
}
