import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../config/env.js';

function configError(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error(`expected a ConfigError for ${JSON.stringify(Object.keys(env))}`);
}

const defaults = {
  DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/dossier_sync',
  REDIS_URL: 'redis://127.0.0.1:6379',
  HTTP_PORT: 8080,
  HTTP_HOST: '127.0.0.1',
  LOG_LEVEL: 'info',
  QUEUE_PREFIX: 'dossier-sync',
  WRITER_CONCURRENCY: 2,
  WRITER_GROUP_BATCHES: 8,
  WRITER_GROUP_RECORDS: 8000,
  WRITER_PROVINCE_CONCURRENCY: 2,
  POLLER_CONCURRENCY: 64,
  POLLER_MAX_PAGES_PER_RUN: 200,
  POLLER_PAGES_IN_FLIGHT: 4,
  INGEST_KEPT_COMPLETED_BATCHES: 3,
  SHUTDOWN_TIMEOUT_MS: 30_000,
  STARTUP_WAIT_MS: 0,
  // SECRETS_KEY has no default: unset, it is absent.
  WEBHOOK_BODY_LIMIT_BYTES: 1_048_576,
  WEBHOOK_BATCH_MAX_RECORDS: 500,
  WEBHOOK_BATCH_WAIT_MS: 20,
  WEBHOOK_IDEMPOTENCY_TTL_SECONDS: 43_200,
  WEBHOOK_ACK_TIMEOUT_MS: 10_000,
  FEED_CURSOR_MAX_AGE_DAYS: 30,
  API_RATE_LIMIT_PER_SECOND: 100,
  STATS_REFRESH_INTERVAL_MS: 60_000,
};

describe('loadConfig defaults', () => {
  it('uses the developer-machine defaults for an empty environment', () => {
    expect(loadConfig({})).toEqual(defaults);
  });

  it('treats a variable set to the empty string as unset', () => {
    const empty = Object.fromEntries(Object.keys(defaults).map((key) => [key, '']));
    expect(loadConfig(empty)).toEqual(defaults);
  });

  it('reads valid settings, numbers as numbers', () => {
    const config = loadConfig({
      DATABASE_URL: 'postgresql://sync:pw@db.internal:5433/sync',
      REDIS_URL: 'rediss://cache.internal:6380/2',
      HTTP_PORT: '0',
      LOG_LEVEL: 'debug',
      WRITER_CONCURRENCY: '4',
    });
    expect(config).toMatchObject({
      DATABASE_URL: 'postgresql://sync:pw@db.internal:5433/sync',
      REDIS_URL: 'rediss://cache.internal:6380/2',
      HTTP_PORT: 0,
      LOG_LEVEL: 'debug',
      WRITER_CONCURRENCY: 4,
    });
  });

  it('ignores variables that are not settings', () => {
    expect(loadConfig({ PATH: '/usr/bin', SOMETHING_ELSE: 'x' })).toEqual(defaults);
  });
});

describe('a bad setting throws one line naming the variable, the bad value and what is expected', () => {
  it.each<[string, string, RegExp]>([
    ['DATABASE_URL', 'mysql://x', /expected a URL such as postgres:\/\//],
    ['DATABASE_URL', 'not a url', /expected a URL such as postgres:\/\//],
    ['DATABASE_URL', 'redis://127.0.0.1:6379', /expected a URL such as postgres:\/\//],
    ['REDIS_URL', 'http://127.0.0.1:6379', /expected a URL such as redis:\/\//],
    ['REDIS_URL', '127.0.0.1:6379', /expected a URL such as redis:\/\//],
    ['HTTP_PORT', 'abc', /expected a whole number from 0 to 65535/],
    ['HTTP_PORT', '70000', /expected a whole number from 0 to 65535/],
    ['HTTP_PORT', '-1', /expected a whole number from 0 to 65535/],
    ['HTTP_PORT', '80.5', /expected a whole number from 0 to 65535/],
    ['LOG_LEVEL', 'loud', /expected one of fatal, error, warn, info, debug, trace, silent/],
    ['QUEUE_PREFIX', 'has space', /expected 1 to 64 letters/],
    ['WRITER_CONCURRENCY', '0', /expected a whole number from 1 to 64/],
    ['SHUTDOWN_TIMEOUT_MS', '10', /expected a whole number from 100 to 600000/],
    ['API_RATE_LIMIT_PER_SECOND', '0', /expected a whole number from 1 to 1000000/],
  ])('%s=%s', (variable, value, expectation) => {
    const error = configError({ [variable]: value });
    expect(error.name).toBe('ConfigError');
    expect(error.message).toContain(variable);
    expect(error.message).toContain(`${variable}="${value}`);
    expect(error.message).toMatch(expectation);
    expect(error.message).not.toMatch(/[\r\n]/);
  });

  it('names the first bad variable when several are wrong, still on one line', () => {
    const error = configError({ HTTP_PORT: 'abc', LOG_LEVEL: 'loud' });
    expect(error.message).toMatch(/HTTP_PORT|LOG_LEVEL/);
    expect(error.message).not.toMatch(/[\r\n]/);
  });

  it('a value with a line break is still shown on one line', () => {
    const error = configError({ HTTP_PORT: '80\n80' });
    expect(error.message).toContain('HTTP_PORT');
    expect(error.message).not.toMatch(/[\r\n]/);
  });

  it('a very long value is shortened', () => {
    const error = configError({ LOG_LEVEL: 'x'.repeat(500) });
    expect(error.message.length).toBeLessThan(300);
  });
});

describe('a password inside a bad URL never appears in the message', () => {
  it('an unparseable port: postgres://u:s3cret@host:notaport/db', () => {
    const error = configError({ DATABASE_URL: 'postgres://u:s3cret@host:notaport/db' });
    expect(error.message).toContain('DATABASE_URL');
    expect(error.message).toContain('notaport');
    expect(error.message).not.toContain('s3cret');
  });

  it('a parseable URL of the wrong kind: mysql://u:s3cret@host/db', () => {
    const error = configError({ DATABASE_URL: 'mysql://u:s3cret@host/db' });
    expect(error.message).toContain('mysql://');
    expect(error.message).not.toContain('s3cret');
  });

  it('a Redis password: redis://:s3cret@host:bad', () => {
    const error = configError({ REDIS_URL: 'redis://:s3cret@host:bad' });
    expect(error.message).toContain('REDIS_URL');
    expect(error.message).not.toContain('s3cret');
  });

  // Generated passwords (base64, random) often hold ':', '/' or '@'. No part of them may be shown.
  it.each(['Xk9:Qz7', 'Xk9/Qz7', 'Xk9@Qz7'])(
    'a password with a special character (%s) in a URL with a bad port',
    (password) => {
      const error = configError({ DATABASE_URL: `postgres://sync:${password}@db.internal:notaport/sync` });
      expect(error.message).toContain('DATABASE_URL');
      expect(error.message).not.toContain('Xk9');
      expect(error.message).not.toContain('Qz7');
    },
  );
});
