import { expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../config/env.js';
import { parseClusterUrl } from '../../config/redis-url.js';

it('reads a redis-cluster:// URL as its seed nodes, with credentials and TLS', () => {
  expect(parseClusterUrl('redis-cluster://10.0.0.1:6379,redis-b.internal:7000,[::1]:7001')).toEqual({
    nodes: [
      { host: '10.0.0.1', port: 6379 },
      { host: 'redis-b.internal', port: 7000 },
      { host: '::1', port: 7001 },
    ],
    tls: false,
  });
  expect(parseClusterUrl('rediss-cluster://fleet:p%40ss@10.0.0.1:6379')).toEqual({
    nodes: [{ host: '10.0.0.1', port: 6379 }],
    username: 'fleet',
    password: 'p@ss',
    tls: true,
  });
  expect(parseClusterUrl('redis://127.0.0.1:6379')).toBeNull();
  expect(loadConfig({ REDIS_URL: 'redis-cluster://127.0.0.1:7000,127.0.0.1:7001' }).REDIS_URL).toBe(
    'redis-cluster://127.0.0.1:7000,127.0.0.1:7001',
  );
});

it('refuses a node that is not host:port, naming the variable and never the password', () => {
  for (const bad of ['redis-cluster://', 'redis-cluster://10.0.0.1', 'redis-cluster://:secret@10.0.0.1:99999']) {
    const error = (() => {
      try {
        loadConfig({ REDIS_URL: bad });
      } catch (caught) {
        return caught;
      }
      return null;
    })();
    expect(error, bad).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(
      /^config: REDIS_URL=.* is invalid: expected .*redis-cluster:\/\/10.0.0.1:6379/,
    );
    expect((error as Error).message).not.toContain('secret');
  }
});
