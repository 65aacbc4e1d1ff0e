import { sql } from 'kysely';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { changeHorizon, declareDossierReader } from '../../db/queries/change-horizon.js';
import { createTestEnvironment, type TestEnvironment } from '../support/test-environment.js';

let env: TestEnvironment;
beforeAll(async () => {
  env = await createTestEnvironment();
});
afterAll(async () => {
  await env?.cleanup();
});

/** Runs `body` inside a transaction that stays open until `release` resolves; resolves its start time once begun. */
function openTransaction(declareReader: boolean) {
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  let started!: (at: Date) => void;
  const startedAt = new Promise<Date>((resolve) => (started = resolve));
  const done = env.db.transaction().execute(async (trx) => {
    const { rows } = await sql<{ at: Date }>`SELECT now() AS at`.execute(trx);
    if (declareReader) await declareDossierReader(trx);
    started(rows[0]!.at);
    await released;
  });
  return { startedAt, release, done };
}

it('is held back by an open transaction that may write dossiers, not by one declared a reader', async () => {
  const writer = openTransaction(false);
  const writerStart = await writer.startedAt;
  // The horizon stays before the open transaction's start, however long it stays open.
  await new Promise((resolve) => setTimeout(resolve, 1_500));
  expect((await changeHorizon(env.db)).getTime()).toBeLessThan(writerStart.getTime());
  writer.release();
  await writer.done;

  const reader = openTransaction(true);
  const readerStart = await reader.startedAt;
  await new Promise((resolve) => setTimeout(resolve, 1_500));
  // Without the writer, the horizon is the present less its margin: past the reader's start.
  expect((await changeHorizon(env.db)).getTime()).toBeGreaterThan(readerStart.getTime());
  reader.release();
  await reader.done;
});
