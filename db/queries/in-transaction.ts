import type { Kysely, Transaction } from 'kysely';
import type { Database } from '../schema.js';

/**
 * Runs `work` in a transaction: the caller's, when `db` already is one (so a change and its audit event commit
 * together), else a new one.
 */
export function inTransaction<T>(
  db: Kysely<Database>,
  work: (trx: Transaction<Database> | Kysely<Database>) => Promise<T>,
) {
  return db.isTransaction ? work(db) : db.transaction().execute(work);
}
