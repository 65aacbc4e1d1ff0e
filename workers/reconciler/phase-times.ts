/**
 * Where a reconcile run's time goes, by phase (milliseconds summed over the run in this process): logged with the
 * run's end line so that a slow run can be read without a profiler. Phases do not nest: each is timed once.
 */
export class PhaseTimes {
  private readonly totals = new Map<string, { ms: number; calls: number }>();

  /** Runs `work`, adding its duration to `phase`. */
  async time<T>(phase: string, work: () => Promise<T>): Promise<T> {
    const started = performance.now();
    try {
      return await work();
    } finally {
      const total = this.totals.get(phase) ?? { ms: 0, calls: 0 };
      total.ms += performance.now() - started;
      total.calls += 1;
      this.totals.set(phase, total);
    }
  }

  /** The phases' totals, in ms rounded to a tenth, and how many times each ran. */
  summary(): Record<string, { ms: number; calls: number }> {
    const out: Record<string, { ms: number; calls: number }> = {};
    for (const [phase, { ms, calls }] of this.totals) out[phase] = { ms: Math.round(ms * 10) / 10, calls };
    return out;
  }
}
