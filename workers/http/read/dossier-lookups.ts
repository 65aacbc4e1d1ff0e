import type { Kysely } from 'kysely';
import { findDossier, findDossiers, type StoredDossier } from '../../../db/queries/find-dossier.js';
import type { Database } from '../../../db/schema.js';

/** How DossierLookups batches. */
export interface DossierLookupsOptions {
  /**
   * Statements in flight at once; a lookup arriving when all are busy waits for the next. Default 3 (of a gateway's
   * pool of WRITER_CONCURRENCY + 3): at a steady 2,000 lookups/s, p99 46–51 ms with 3 against 49–70 ms with 2.
   */
  statementsInFlight?: number;
  /** The most lookups one statement answers. Default 200. */
  maxBatch?: number;
}

interface Waiting {
  provinceCode: string;
  dossierCode: string;
  resolve: (found: StoredDossier | undefined) => void;
  reject: (error: unknown) => void;
}

/**
 * Answers concurrent lookups of dossiers with few statements, as the writer's group commit does batches: a lookup
 * goes at once while one of its statement places is free, and those arriving while every place is busy are answered
 * together by the next statement (findDossiers). Under light load each lookup is its own statement, with no wait
 * added; under heavy load one round trip answers many, and the gateway's CPU per lookup falls with the load
 * instead of the statements piling up (a statement's socket write was a third of a lookup's CPU).
 */
export class DossierLookups {
  private readonly waiting: Waiting[] = [];
  private inFlight = 0;
  private readonly statementsInFlight: number;
  private readonly maxBatch: number;

  constructor(
    private readonly db: Kysely<Database>,
    options: DossierLookupsOptions = {},
  ) {
    this.statementsInFlight = options.statementsInFlight ?? 3;
    this.maxBatch = options.maxBatch ?? 200;
  }

  /** The dossier by its current province code and dossier code, or undefined; rejects if the statement failed. */
  find(provinceCode: string, dossierCode: string): Promise<StoredDossier | undefined> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ provinceCode, dossierCode, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    while (this.inFlight < this.statementsInFlight && this.waiting.length > 0) {
      const batch = this.waiting.splice(0, this.maxBatch);
      this.inFlight += 1;
      void this.answer(batch).finally(() => {
        this.inFlight -= 1;
        this.pump();
      });
    }
  }

  private async answer(batch: readonly Waiting[]): Promise<void> {
    try {
      const found =
        batch.length === 1
          ? [await findDossier(this.db, batch[0]!.provinceCode, batch[0]!.dossierCode)]
          : await findDossiers(this.db, batch);
      for (const [place, lookup] of batch.entries()) lookup.resolve(found[place]);
    } catch (error) {
      for (const lookup of batch) lookup.reject(error);
    }
  }
}
