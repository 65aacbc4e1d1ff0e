import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { reportCliError } from '../../../scripts/cli/cli-errors.js';
import { createTestEnvironment, type TestEnvironment } from '../../support/test-environment.js';
import { runFleetApart } from './run-fleet-apart.js';

// An error nobody foresaw (here a dead letter whose stored payload was damaged by hand) is one line on stderr,
// with a hint; its stack trace only with --debug.

let env: TestEnvironment;
let cli: Record<string, string>;
let damaged: string;

beforeAll(async () => {
  env = await createTestEnvironment();
  cli = { DATABASE_URL: env.config.DATABASE_URL, LOG_LEVEL: 'silent' };
  const row = await env.db
    .insertInto('dead_letters')
    .values({
      connector_id: 'danang',
      reason: 'bad_date',
      message: 'x',
      fingerprint: 'damaged',
      raw_payload: '{"MaHoSo": "48.2026.0',
      received_at: new Date(),
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  damaged = String(row.id);
});
afterAll(async () => env?.cleanup());

describe('an unexpected error', () => {
  it('prints one line, exit 1, with a hint to run again with --debug', async () => {
    const run = await runFleetApart(['dlq', 'show', damaged], cli);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(run.stderr).toMatch(
      /^fleet: SyntaxError: .*JSON.* \(an unexpected error: run again with --debug for its stack trace\)\n$/,
    );
  });

  it('prints its stack trace too with --debug, before or after the verb', async () => {
    for (const args of [
      ['--debug', 'dlq', 'show', damaged],
      ['dlq', 'show', damaged, '--debug'],
    ]) {
      const run = await runFleetApart(args, cli);
      expect(run.code).toBe(1);
      expect(run.stderr).toMatch(/^fleet: SyntaxError: .*JSON.*\n/);
      expect(run.stderr).not.toContain('--debug for');
      // The module that threw, run from source (.ts) or transpiled (.js, as the tests run fleet).
      expect(run.stderr).toMatch(/^ {4}at .*dead-letter-view\.[tj]s:\d+/m);
    }
  });

  it('prints the machine code it carries', () => {
    const printed = vi.spyOn(console, 'error').mockImplementation(() => {});
    try {
      const notFound = Object.assign(new Error('there is no connector nowhere'), { code: 'connector_not_found' });
      const system = Object.assign(new Error('connect ECONNRESET 127.0.0.1:5432'), { code: 'ECONNRESET' });
      expect([reportCliError(notFound, { debug: false }), reportCliError(system, { debug: false })]).toEqual([1, 1]);
      expect(printed.mock.calls.map(([line]) => line)).toEqual([
        'fleet: connector_not_found: there is no connector nowhere (an unexpected error: run again with --debug for its stack trace)',
        'fleet: connect ECONNRESET 127.0.0.1:5432 (an unexpected error: run again with --debug for its stack trace)',
      ]);
    } finally {
      printed.mockRestore();
    }
  });
});
