/**
 * Writes what a hot path notes, one write at a time, without the hot path waiting: notes made while a write is
 * in flight are merged by key and written together once it ends. However fast the notes come, the database sees
 * at most one statement in flight from this process for them. A write that fails is told to `onError` and tried
 * again after `retryMs` with what was noted meanwhile merged in; nothing noted is dropped until `close`.
 */
export class CoalescingWrite<V> {
  private pending = new Map<string, V>();
  private writing: Promise<void> | null = null;
  private closed = false;
  private wake: (() => void) | null = null;

  constructor(
    private readonly write: (values: V[]) => Promise<void>,
    /** One value out of an earlier and a later one for the same key. */
    private readonly merge: (earlier: V, later: V) => V,
    private readonly onError: (error: unknown) => void,
    private readonly retryMs = 5_000,
  ) {}

  /** Notes a value to write; returns at once. Once closed, a note is dropped. */
  note(key: string, value: V): void {
    if (this.closed) return;
    this.put(key, value, false);
    this.writing ??= this.drain();
  }

  /** Writes what is still noted (one last try if a write is failing), then stops taking notes. */
  async close(): Promise<void> {
    this.closed = true;
    this.wake?.();
    await this.writing;
    if (this.pending.size > 0) await this.writeOnce();
  }

  private put(key: string, value: V, earlier: boolean): void {
    const other = this.pending.get(key);
    if (other === undefined) this.pending.set(key, value);
    else this.pending.set(key, earlier ? this.merge(value, other) : this.merge(other, value));
  }

  /** Writes everything pending; false when the write failed (what it held is pending again). */
  private async writeOnce(): Promise<boolean> {
    const values = this.pending;
    this.pending = new Map();
    try {
      await this.write([...values.values()]);
      return true;
    } catch (error) {
      this.onError(error);
      for (const [key, value] of values) this.put(key, value, true);
      return false;
    }
  }

  private async drain(): Promise<void> {
    try {
      while (this.pending.size > 0 && !this.closed) {
        if (!(await this.writeOnce()) && !this.closed) {
          await new Promise<void>((resolve) => {
            this.wake = resolve;
            setTimeout(resolve, this.retryMs).unref();
          });
          this.wake = null;
        }
      }
    } finally {
      this.writing = null;
    }
  }
}
