/**
 * What the fleet's logger redacts, in one place (README "Logs"). Log lines carry ids and reasons, never records:
 * personal data and secrets are kept out by never passing them. These lists are the second fence, applied by
 * configuration (pino's `redact`) to every line and every child logger's bindings: a value under one of these keys
 * — a text, a number, an object, a list, whatever its shape — is written as `[redacted]`, at the top of a line's
 * fields and nested up to `redactedDepth` objects or lists below it.
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

/** How many levels below a line's top a redacted key is looked for (pino's wildcards match one level each). */
export const redactedDepth = 4;

/** A key after `depth` wildcards: dotted when it is a plain name, bracketed and quoted otherwise (`*["x-api-key"]`). */
function pathOf(key: string, depth: number): string {
  const wildcards = Array.from({ length: depth }, () => '*');
  if (/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(key)) return [...wildcards, key].join('.');
  return `${wildcards.join('.')}[${JSON.stringify(key)}]`;
}

/** Every path pino redacts: each key at the top, and under one to `redactedDepth` wildcards (objects and lists). */
export const redactPaths: readonly string[] = [...personalDataKeys, ...secretKeys].flatMap((key) =>
  Array.from({ length: redactedDepth + 1 }, (_, depth) => pathOf(key, depth)),
);

/** pino's `redact` option. */
export const logRedaction = { paths: [...redactPaths], censor: redactionCensor };

/** Credentials of a URL in a text (`redis://user:password@host`), cut out wherever they appear. */
const urlCredentials = /\/\/[^/@\s"'<>]*@/g;

/** A text with the credentials of any URL in it cut out. */
export function withoutUrlCredentials(text: string): string {
  return text.includes('@') ? text.replace(urlCredentials, '//[redacted]@') : text;
}

/**
 * A copy of a line's fields with the credentials of any URL in a text cut out, in keys and values, 8 levels deep
 * (pino's `formatters.log`): an error message quoting a connection URL. An error stays an error (its message,
 * stack and cause scrubbed), for pino's error serializer.
 */
export function scrubUrlCredentials(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return withoutUrlCredentials(value);
  if (value === null || typeof value !== 'object' || depth > 8) return value;
  if (value instanceof Error) {
    const own = { ...value, message: value.message, stack: value.stack };
    const scrubbed = scrubUrlCredentials(value.cause === undefined ? own : { ...own, cause: value.cause }, depth + 1);
    return Object.assign(Object.create(Object.getPrototypeOf(value) as object) as Error, scrubbed);
  }
  if (Array.isArray(value)) return value.map((item) => scrubUrlCredentials(item, depth + 1));
  const copy: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value))
    Object.defineProperty(copy, withoutUrlCredentials(key), {
      value: scrubUrlCredentials(item, depth + 1),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  return copy;
}
