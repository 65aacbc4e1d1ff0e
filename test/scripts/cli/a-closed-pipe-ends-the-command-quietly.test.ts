import { sql } from 'kysely';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTestEnvironment, type TestEnvironment } from '../../support/test-environment.js';
import { runApart } from './run-fleet-apart.js';
import { checkoutFleetScript } from '../../support/fleet-executables.js';

// `fleet dlq list | head -1`: the reader leaves after the first line while fleet still writes. The command ends
// at once, exit 0, with nothing on stderr: no EPIPE stack trace.

let env: TestEnvironment;
let cli: Record<string, string>;

beforeAll(async () => {
  env = await createTestEnvironment();
  cli = { DATABASE_URL: env.config.DATABASE_URL, LOG_LEVEL: 'silent' };
  // Far more than a pipe holds (64 KiB), so fleet is still writing when the reader goes.
  await sql`
    INSERT INTO dead_letters (connector_id, province_code, dossier_code, reason, message, fingerprint, raw_payload, received_at)
    SELECT 'danang', '48', '48.2026.' || lpad(i::text, 6, '0'), 'bad_date', 'NgayHenTra "20260231250000" is not a date of format yyyyMMddHHmmss', 'fingerprint-' || i, '{}', now()
    FROM generate_series(1, 5000) AS i`.execute(env.db);
});
afterAll(async () => env?.cleanup());

it('ends quietly when its reader closes stdout after the first chunk', async () => {
  for (const args of [
    ['dlq', 'list', '--limit', '5000'],
    ['dlq', 'list', '--limit', '5000', '-o', 'json'],
  ]) {
    const run = await runApart(process.execPath, [checkoutFleetScript(), ...args], cli, (_chunk, stop) => stop());
    expect({ args, code: run.code, stderr: run.stderr }).toEqual({ args, code: 0, stderr: '' });
  }
});

it('ends quietly piped into head -1 and grep -m1', async () => {
  const head = await runApart(
    'bash',
    ['-o', 'pipefail', '-c', `"${process.execPath}" "${checkoutFleetScript()}" dlq list --limit 5000 | head -1`],
    cli,
  );
  expect(head).toEqual({ code: 0, stdout: 'bad_date: 5000\n', stderr: '' });
  const grep = await runApart(
    'bash',
    [
      '-o',
      'pipefail',
      '-c',
      `"${process.execPath}" "${checkoutFleetScript()}" dlq list --limit 5000 -o json | grep -m1 '"dossierCode"'`,
    ],
    cli,
  );
  expect(grep.code).toBe(0);
  expect(grep.stdout).toMatch(/^ +"dossierCode": "48\.2026\.\d{6}",\n$/);
  expect(grep.stderr).toBe('');
});
