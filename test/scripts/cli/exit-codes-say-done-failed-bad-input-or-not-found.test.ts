import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { saveConnector } from '../../../db/queries/connectors.js';
import { createTestEnvironment, type TestEnvironment } from '../../support/test-environment.js';
import { runFleetApart } from './run-fleet-apart.js';

// 0 done, 1 failed, 2 bad input, 3 not found: what a script branches on, as `fleet --help` lists it.

let env: TestEnvironment;
let cli: Record<string, string>;
const fleet = (...args: string[]) => runFleetApart(args, cli);

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

beforeAll(async () => {
  env = await createTestEnvironment();
  cli = { DATABASE_URL: env.config.DATABASE_URL, LOG_LEVEL: 'silent' };
  await saveConnector(env.db, {
    id: 'danang',
    sourceProvinceCode: '48',
    sourceCodeSet: '2025',
    kind: 'national-rest',
    config: { baseUrl: 'http://127.0.0.1:9' },
    pollIntervalMs: 60_000,
  });
});
afterAll(async () => env?.cleanup());

describe('the exit code of fleet', () => {
  it('is 0 when done', async () => {
    const run = await fleet('connector', 'list');
    expect(run).toMatchObject({ code: 0, stderr: '' });
    expect(run.stdout).toMatch(/^danang +48 +national-rest +active/m);
  });

  it('is 1 when it failed: Postgres out of reach, in one line', async () => {
    const run = await runFleetApart(['connector', 'list'], {
      DATABASE_URL: `postgres://postgres@127.0.0.1:${await closedPort()}/x`,
    });
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(run.stderr).toMatch(
      /^cannot use Postgres at postgres:\/\/postgres@127\.0\.0\.1:\d+\/x \(DATABASE_URL\): .*ECONNREFUSED/,
    );
  });

  it('is 2 on bad input: an unknown option, a bad value', async () => {
    const [option, value] = await Promise.all([
      fleet('connector', 'list', '--everything'),
      fleet('dlq', 'list', '--limit', 'many'),
    ]);
    expect(option.code).toBe(2);
    expect(option.stderr).toMatch(/unknown option '--everything'/);
    expect(value.code).toBe(2);
    expect(value.stderr).toMatch(
      /option '--limit <n>' argument 'many' is invalid\. expected a whole number of at least 1/,
    );
  });

  it('is 3 when what it names does not exist: a connector, a dead letter, a failed batch, an API key', async () => {
    const runs = await Promise.all([
      fleet('connector', 'show', 'nowhere'),
      fleet('connector', 'pause', 'nowhere', '-o', 'json'),
      fleet('connector', 'check', 'nowhere'),
      fleet('dlq', 'show', '999999'),
      fleet('failed-batch', 'show', '999999'),
      fleet('apikey', 'revoke', '999999'),
    ]);
    expect(runs.map((run) => run.code)).toEqual([3, 3, 3, 3, 3, 3]);
    expect(runs.map((run) => run.stdout)).toEqual(['', '', '', '', '', '']);
    expect(runs.map((run) => run.stderr.trim())).toEqual([
      'fleet connector show: connector nowhere is not registered',
      'fleet connector pause: connector nowhere is not registered',
      'fleet connector check: connector nowhere is not registered',
      'fleet dlq show: no dead letter 999999',
      'fleet failed-batch show: no failed batch 999999',
      'fleet apikey revoke: there is no API key 999999; expected an id fleet apikey list shows',
    ]);
  });

  it('is listed in fleet --help', async () => {
    const run = await fleet('--help');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(
      /^Exit codes:\n {2}0 {2}done\n {2}1 {2}failed .*\n {2}2 {2}bad input .*\n {2}3 {2}not found /m,
    );
  });
});

it('prints its version, from package.json', async () => {
  const { version } = JSON.parse(await readFile(new URL('../../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  expect(await fleet('--version')).toEqual({ code: 0, stdout: `${version}\n`, stderr: '' });
});
