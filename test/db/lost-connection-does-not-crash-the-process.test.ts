import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase } from '../../db/database.js';
import { createTestEnvironment, type TestEnvironment } from '../support/test-environment.js';

/**
 * node-postgres emits 'error' on a client whose connection ends, and its pool listens only while the client is
 * idle: without a listener of ours, a Postgres restart while a batch holds a connection kills the writer with
 * "Unhandled 'error' event" (an uncaught exception here, which fails the run).
 */
describe('a connection lost while checked out', () => {
  let env: TestEnvironment;
  beforeAll(async () => {
    env = await createTestEnvironment();
  });
  afterAll(async () => {
    await env.cleanup();
  });

  const terminate = (pid: number) => sql`SELECT pg_terminate_backend(${pid})`.execute(env.db);
  const settle = () => new Promise((resolve) => setTimeout(resolve, 300));

  it('between two statements of a transaction fails that transaction only', async () => {
    const db = createDatabase(env.config.DATABASE_URL, { maxConnections: 1 });
    try {
      const transaction = db.transaction().execute(async (trx) => {
        const { rows } = await sql<{ pid: number }>`SELECT pg_backend_pid() AS pid`.execute(trx);
        await terminate(rows[0]!.pid);
        await settle();
        await sql`SELECT 1`.execute(trx);
      });
      await expect(transaction).rejects.toThrow();
      await settle();
      // The pool dropped the broken client and opens a new one.
      const { rows } = await sql<{ one: number }>`SELECT 1 AS one`.execute(db);
      expect(rows[0]!.one).toBe(1);
    } finally {
      await db.destroy();
    }
  });

  it('during a query fails that query only', async () => {
    const db = createDatabase(env.config.DATABASE_URL, { maxConnections: 1 });
    try {
      const connection = await db.connection().execute(async (conn) => {
        const { rows } = await sql<{ pid: number }>`SELECT pg_backend_pid() AS pid`.execute(conn);
        const slow = sql`SELECT pg_sleep(5)`.execute(conn).then(
          () => null,
          (error: unknown) => error,
        );
        await terminate(rows[0]!.pid);
        expect(String(await slow)).toMatch(/terminat/);
        await settle();
      });
      expect(connection).toBeUndefined();
      await settle();
      const { rows } = await sql<{ one: number }>`SELECT 1 AS one`.execute(db);
      expect(rows[0]!.one).toBe(1);
    } finally {
      await db.destroy();
    }
  });
});
