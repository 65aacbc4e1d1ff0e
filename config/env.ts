import { z } from 'zod';
import { parseClusterUrl } from './redis-url.js';

/** A setting that failed validation; its message is one line naming the variable, the problem and what is expected. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

function urlWithProtocols(protocols: string[], example: string) {
  return z.string().refine(
    (value) => {
      try {
        return protocols.includes(new URL(value).protocol);
      } catch {
        return false;
      }
    },
    { message: `expected a URL such as ${example}` },
  );
}

const integer = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d+$/, { message: `expected a whole number from ${min} to ${max}` })
    .transform(Number)
    .pipe(
      z
        .number()
        .int()
        .min(min, { message: `expected a whole number from ${min} to ${max}` })
        .max(max, { message: `expected a whole number from ${min} to ${max}` }),
    );

/**
 * Every setting of the fleet, read from the environment. Each entry documents itself and its default;
 * the defaults work on a developer machine where Redis and Postgres run on 127.0.0.1.
 */
const schema = z.object({
  /** Postgres connection string. Default: the local server, database `dossier_sync`. */
  DATABASE_URL: urlWithProtocols(
    ['postgres:', 'postgresql:'],
    'postgres://postgres@127.0.0.1:5432/dossier_sync',
  ).default('postgres://postgres@127.0.0.1:5432/dossier_sync'),
  /**
   * Redis connection string. Default: the local server, database 0. A Redis Cluster is named by its seed nodes
   * (a few of its masters; the rest are found): `redis-cluster://[user:password@]host:port[,host:port…]`
   * (`rediss-cluster://` for TLS); every key the fleet uses together carries a `{…}` hash tag (docs/scaling.md).
   */
  REDIS_URL: z
    .string()
    .refine((value) => isRedisUrl(value), {
      message:
        'expected a URL such as redis://127.0.0.1:6379, or for a Redis Cluster redis-cluster://10.0.0.1:6379,10.0.0.2:6379',
    })
    .default('redis://127.0.0.1:6379'),
  /** Port of the HTTP server (gateway: webhooks, read API, /metrics, health). Default 8080; 0 picks a free port. */
  HTTP_PORT: integer(0, 65535).default(8080),
  /** Address the HTTP server binds to. Default 127.0.0.1; 0.0.0.0 in a container. */
  HTTP_HOST: z.string().min(1).default('127.0.0.1'),
  /** pino log level. Default info. */
  LOG_LEVEL: z.enum(logLevels, { message: `expected one of ${logLevels.join(', ')}` }).default('info'),
  /**
   * Prefix of every Redis key of the fleet's queues, so several fleets (or tests) share one Redis. Default
   * `dossier-sync`.
   */
  QUEUE_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,64}$/, { message: 'expected 1 to 64 letters, digits, dots, dashes or underscores' })
    .default('dossier-sync'),
  /**
   * Ingest batches written at once by one writer process; each holds one Postgres connection. Default 2 (limits.md:
   * more gained nothing on 2 cores).
   */
  WRITER_CONCURRENCY: integer(1, 64).default(2),
  /**
   * Batches of one province's queue one writer commits together in one transaction, at most (group commit), when
   * the queue holds several. Default 8. More makes a busy province's transactions larger; each batch taken is held
   * in the writer's memory while the group is written.
   */
  WRITER_GROUP_BATCHES: integer(1, 64).default(8),
  /** Records of one group commit, at most: no further batch is taken once a group holds this many. Default 8000. */
  WRITER_GROUP_RECORDS: integer(1, 1_000_000).default(8000),
  /**
   * Groups of one province's queue one writer process commits at once, each its own transaction. Default 2, so that
   * one busy province (a backfill) can use every place WRITER_CONCURRENCY gives; their order does not matter (the
   * version guard, and a cursor that moves only past committed pages, as with several writer processes).
   */
  WRITER_PROVINCE_CONCURRENCY: integer(1, 64).default(2),
  /**
   * Connectors polled at once by one poller process. Default 64. A run against a hung province system holds its
   * place until the connector's timeout, so places must outnumber the systems that may hang together (a shared
   * vendor platform down): keep it at or above connectors ÷ poller processes. A run holds about two pages.
   */
  POLLER_CONCURRENCY: integer(1, 256).default(64),
  /**
   * Pages one poll run reads at most. Default 200. A longer backlog is read in several runs, each from the committed
   * position, so one connector with millions of records to catch up neither holds its poller place for hours nor
   * keeps its other jobs (a schedule change, a shutdown) waiting behind one run.
   */
  POLLER_MAX_PAGES_PER_RUN: integer(1, 100_000).default(200),
  /**
   * Pages of one connector handed to the writer and not yet committed, at most. Default 4: the source is read while
   * earlier pages are written, so the province's queue holds batches to commit together. 1 is a strict handshake
   * (page k+1 read once page k committed). Redis holds up to connectors × this many batches in flight.
   */
  POLLER_PAGES_IN_FLIGHT: integer(1, 64).default(4),
  /**
   * Committed batches each province's ingest queue keeps in Redis, its newest. Default 3. A batch holds its records
   * (hundreds of KiB), so Redis holds provinces × this many past their commit; a poller whose wait missed the
   * commit's event finds its batch among them. More keeps more for inspection (`fleet queue`, bull-board).
   */
  INGEST_KEPT_COMPLETED_BATCHES: integer(1, 100_000).default(3),
  /** Time allowed to finish current jobs after SIGTERM before the process exits anyway. Default 30000 ms. */
  SHUTDOWN_TIMEOUT_MS: integer(100, 600_000).default(30_000),
  /**
   * How long `fleet start` waits for Redis and Postgres to answer before giving up. Default 0: fail at once with
   * one line (a wrong URL is seen at once). In production set it (e.g. 60000) so a worker restarted while Redis
   * or Postgres restarts waits for them instead of exiting.
   */
  STARTUP_WAIT_MS: integer(0, 600_000).default(0),
  /**
   * Key that encrypts the connectors' webhook secrets at rest (AES-256-GCM): 32 random bytes in base64, e.g. from
   * `openssl rand -base64 32`, the same on every gateway and CLI host. Unset: the rest of the fleet runs, but
   * webhooks are refused (503) and `fleet connector rotate-secret` exits 2 (unless SECRETS_KEYS is set instead).
   */
  SECRETS_KEY: z
    .string()
    .refine((value) => isSecretsKey(value), {
      message: 'expected 32 random bytes in base64 (44 characters, e.g. from: openssl rand -base64 32)',
    })
    .optional(),
  /**
   * The keys of a master-key rotation, newest first, comma-separated, each as SECRETS_KEY: new webhook secrets are
   * sealed with the first, stored ones opened with the key they name (the README's "Rotating the master key").
   * Unset: SECRETS_KEY alone. Setting both is an error, so that a forgotten SECRETS_KEY cannot hide a key.
   */
  SECRETS_KEYS: z
    .string()
    .superRefine((value, context) => {
      const keys = value.split(',').map((key) => key.trim());
      const bad = keys.findIndex((key) => !isSecretsKey(key));
      if (bad >= 0)
        context.addIssue({
          code: 'custom',
          message: `key ${bad + 1} of ${keys.length} is not 32 random bytes in base64 (44 characters, e.g. from: openssl rand -base64 32); expected the keys newest first, separated by commas`,
        });
      else if (new Set(keys).size !== keys.length)
        context.addIssue({ code: 'custom', message: 'a key is listed twice; expected each key once, newest first' });
    })
    .optional(),
  /** Largest webhook body accepted; a larger one is refused with 413. Default 1048576 (1 MiB). */
  WEBHOOK_BODY_LIMIT_BYTES: integer(1024, 67_108_864).default(1_048_576),
  /** Pushed records grouped into one ingest job, at most. Default 500. */
  WEBHOOK_BATCH_MAX_RECORDS: integer(1, 5000).default(500),
  /**
   * How long pushed records wait for others to share their ingest job. Default 20 ms (bench:webhooks: fewer, larger
   * jobs cost less per update than 10 ms, for a few ms of latency).
   */
  WEBHOOK_BATCH_WAIT_MS: integer(0, 1000).default(20),
  /**
   * How long a delivery's webhook-id and answer are remembered at least, so a retry is acknowledged without being
   * applied twice: kept in slices of a quarter of this, each forgotten whole, so between 1 and 1.25 times this.
   * Default 43200 s (12 h): longer than the longest wait between two attempts of a Standard Webhooks sender (10 h
   * in Svix's schedule). A retry after it is applied again, harmlessly (the writer's version guard).
   */
  WEBHOOK_IDEMPOTENCY_TTL_SECONDS: integer(60, 2_592_000).default(43_200),
  /** How long a delivery waits for Redis to acknowledge its batch before it is answered 503. Default 10000 ms. */
  WEBHOOK_ACK_TIMEOUT_MS: integer(100, 120_000).default(10_000),
  /**
   * How long a change-feed cursor stays usable, in days: an older one is answered 410 `cursor_expired`, and the
   * portal starts again from `updatedSince`. Default 30.
   */
  FEED_CURSOR_MAX_AGE_DAYS: integer(1, 3650).default(30),
  /**
   * Requests per second one API key may make to the admin and read APIs, counted in Redis across every gateway
   * process (in each process alone while Redis is down); more are answered 429 with Retry-After. Default 100.
   */
  API_RATE_LIMIT_PER_SECOND: integer(1, 1_000_000).default(100),
  /**
   * How long the scheduler role waits between passes of the statistics refresh (the provinces whose dossiers
   * changed are recomputed): the figures of `/v1/stats` are at most about this old, plus one pass. Default 60000 ms.
   */
  STATS_REFRESH_INTERVAL_MS: integer(1000, 86_400_000).default(60_000),
});

/** Settings whose value is a secret: never echoed in an error message. */
const secretSettings = new Set(['SECRETS_KEY', 'SECRETS_KEYS']);

/** A one-server Redis URL (`redis:`, `rediss:`), or a Redis Cluster's seed nodes (`redis-cluster:`, ...). */
function isRedisUrl(value: string): boolean {
  try {
    return parseClusterUrl(value) !== null || ['redis:', 'rediss:'].includes(new URL(value).protocol);
  } catch {
    return false;
  }
}

/** 32 bytes in base64 (standard or URL-safe alphabet, padding optional). */
export function isSecretsKey(value: string): boolean {
  return /^[A-Za-z0-9+/_-]{43}=?$/.test(value) && Buffer.from(value, 'base64').length === 32;
}

/** The validated configuration of one fleet process. */
export type Config = z.infer<typeof schema>;

/** Reads and validates the configuration; throws ConfigError naming the first wrong variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const present = Object.fromEntries(
    Object.keys(schema.shape).map((key) => [key, env[key] === '' ? undefined : env[key]]),
  );
  const result = schema.safeParse(present);
  if (result.success) {
    // An unset optional setting is absent rather than undefined: a config is also handed on as an environment.
    for (const key of Object.keys(result.data) as (keyof Config)[])
      if (result.data[key] === undefined) delete result.data[key];
    if (result.data.SECRETS_KEY !== undefined && result.data.SECRETS_KEYS !== undefined)
      throw new ConfigError(
        'config: SECRETS_KEY and SECRETS_KEYS are both set; expected one of them: during a key rotation only SECRETS_KEYS, the new key first, then the old one',
      );
    return result.data;
  }
  const issue = result.error.issues[0]!;
  const key = String(issue.path[0]);
  throw new ConfigError(`config: ${key}=${describeValue(key, env[key])} is invalid: ${issue.message}`);
}

/** Shows a bad value without leaking a password embedded in a URL. */
export function describeValue(key: string, value: string | undefined): string {
  if (value === undefined) return '(unset)';
  if (secretSettings.has(key)) return `(hidden, ${value.length} characters)`;
  if (key.endsWith('_URL')) return JSON.stringify(redactUrl(value));
  return JSON.stringify(value.length > 80 ? `${value.slice(0, 77)}...` : value);
}

/** A URL with its password replaced, for messages and logs. */
export function redactUrl(value: string): string {
  try {
    const url = new URL(value);
    if (url.password) url.password = '***';
    return url.toString();
  } catch {
    // Unparsable: hide everything between the scheme and the last '@', whatever characters the password holds.
    const at = value.lastIndexOf('@');
    const scheme = value.indexOf('://');
    return at > scheme && scheme >= 0 ? `${value.slice(0, scheme + 3)}***${value.slice(at)}` : value;
  }
}
