import type { DossierRecord } from '../../connectors/sdk/dossier-record.js';
import type { DeadLetter } from '../../connectors/sdk/normalise.js';
import type { IngestBatch } from '../queue/queues.js';

/** The ingest queue could not take a batch (Redis down or too slow): nothing in it was acknowledged. */
export class QueueUnavailableError extends Error {
  override readonly name = 'QueueUnavailableError';
}

/** Where batches go: `IngestQueue.add` resolves once Redis acknowledged the job. */
export interface AcknowledgingQueue {
  add(batch: IngestBatch): Promise<unknown>;
}

/** Options of the batcher. */
export interface WebhookBatcherOptions {
  /** A batch is handed to the queue once it holds this many records and dead letters. */
  maxRecords: number;
  /** …or once its first delivery has waited this long (ms). */
  maxWaitMs: number;
  /** A batch not acknowledged by then fails its deliveries (ms). */
  ackTimeoutMs: number;
  /** Told about every batch handed over (size, outcome), for metrics. */
  onFlush?: (batch: IngestBatch, outcome: 'acknowledged' | 'failed', error?: unknown) => void;
}

interface Waiter {
  resolve(): void;
  reject(error: unknown): void;
}

interface Pending {
  connectorId: string;
  provinceCode: string;
  records: DossierRecord[];
  deadLetters: DeadLetter[];
  waiters: Waiter[];
  timer: NodeJS.Timeout | null;
}

/**
 * Groups the records (and dead letters) of pushed deliveries into ingest batches, per connector, up to
 * `maxRecords` or `maxWaitMs` — so a burst of single-update deliveries costs one queue job per group, not one per
 * update — and resolves each delivery only once Redis has acknowledged every job holding its records. If adding
 * a job fails, every delivery in it fails (nothing of them is acknowledged; a retry brings them again).
 */
export class WebhookBatcher {
  private readonly pending = new Map<string, Pending>();
  private readonly inFlight = new Set<Promise<void>>();
  private closed = false;

  constructor(
    private readonly sink: AcknowledgingQueue,
    private readonly options: WebhookBatcherOptions,
  ) {}

  /**
   * Adds one delivery's records and dead letters; resolves when they are durable in the queue, rejects with
   * QueueUnavailableError when they could not be made so. A delivery larger than `maxRecords` is split over
   * several batches and resolves when all of them are acknowledged.
   */
  submit(
    connectorId: string,
    provinceCode: string,
    records: readonly DossierRecord[],
    deadLetters: readonly DeadLetter[],
  ): Promise<void> {
    if (this.closed) return Promise.reject(new QueueUnavailableError('the gateway is shutting down'));
    if (records.length === 0 && deadLetters.length === 0) return Promise.resolve();
    const parts: Promise<void>[] = [];
    let recordIndex = 0;
    let letterIndex = 0;
    do {
      let group = this.pending.get(connectorId);
      if (group && group.provinceCode !== provinceCode) {
        this.flush(group);
        group = undefined;
      }
      if (!group) {
        group = { connectorId, provinceCode, records: [], deadLetters: [], waiters: [], timer: null };
        this.pending.set(connectorId, group);
      }
      const room = this.options.maxRecords - group.records.length - group.deadLetters.length;
      const takeRecords = Math.min(room, records.length - recordIndex);
      for (let i = 0; i < takeRecords; i++) group.records.push(records[recordIndex++]!);
      const takeLetters = Math.min(room - takeRecords, deadLetters.length - letterIndex);
      for (let i = 0; i < takeLetters; i++) group.deadLetters.push(deadLetters[letterIndex++]!);
      parts.push(new Promise<void>((resolve, reject) => group.waiters.push({ resolve, reject })));
      if (group.records.length + group.deadLetters.length >= this.options.maxRecords) this.flush(group);
      else group.timer ??= setTimeout(() => this.flush(group), this.options.maxWaitMs);
    } while (recordIndex < records.length || letterIndex < deadLetters.length);
    return parts.length === 1 ? parts[0]! : Promise.all(parts).then(() => undefined);
  }

  /** Hands every pending group to the queue now and waits for all batches in flight; refuses new deliveries. */
  async close(): Promise<void> {
    this.closed = true;
    for (const group of [...this.pending.values()]) this.flush(group);
    await Promise.allSettled([...this.inFlight]);
  }

  private flush(group: Pending): void {
    if (this.pending.get(group.connectorId) === group) this.pending.delete(group.connectorId);
    if (group.timer) clearTimeout(group.timer);
    group.timer = null;
    const batch: IngestBatch = {
      origin: 'push',
      connectorId: group.connectorId,
      provinceCode: group.provinceCode,
      records: group.records,
      deadLetters: group.deadLetters,
    };
    const handed = this.add(batch).then(
      () => {
        this.options.onFlush?.(batch, 'acknowledged');
        for (const waiter of group.waiters) waiter.resolve();
      },
      (error: unknown) => {
        this.options.onFlush?.(batch, 'failed', error);
        const failure = new QueueUnavailableError(
          `the ingest queue did not acknowledge the batch: ${error instanceof Error ? error.message : String(error)}`,
        );
        for (const waiter of group.waiters) waiter.reject(failure);
      },
    );
    this.inFlight.add(handed);
    void handed.finally(() => this.inFlight.delete(handed));
  }

  /** Adds the batch, failing after `ackTimeoutMs` (the add may still land later: a retry is then a harmless repeat). */
  private add(batch: IngestBatch): Promise<unknown> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(
        () => reject(new Error(`no acknowledgement from Redis within ${this.options.ackTimeoutMs} ms`)),
        this.options.ackTimeoutMs,
      );
    });
    return Promise.race([this.sink.add(batch), timeout]).finally(() => clearTimeout(timer));
  }
}
