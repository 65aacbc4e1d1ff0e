// The memory a phase costs: the peak resident set of each worker process and Redis's peak `used_memory` above
// what it held when the phase began. Redis is shared with whoever else uses this machine, so the figure is a
// delta over the phase's own baseline, and its keys are under a prefix of the phase's own.

import { Redis } from 'ioredis';
import type { BenchChild } from './bench-child.js';

/** What a sampler saw over its phase. */
export interface ResourcePeaks {
  /** Peak resident set per process name, in bytes (the larger of the sampled VmRSS and the final VmHWM). */
  rssBytes: Map<string, number>;
  /** Redis `used_memory` at its peak minus at the start, in bytes. */
  redisPeakDeltaBytes: number;
}

async function usedMemory(redis: Redis): Promise<number> {
  const info = await redis.info('memory');
  return Number(/^used_memory:(\d+)/m.exec(info)?.[1] ?? NaN);
}

/** Samples the processes' memory and Redis's every `everyMs` (default 250 ms) from `start` to `stop`. */
export class ResourceSampler {
  private readonly rss = new Map<string, number>();
  private baseline = NaN;
  private peak = NaN;
  private timer: NodeJS.Timeout | undefined;
  private sampling: Promise<void> = Promise.resolve();

  constructor(
    private readonly redis: Redis,
    private readonly processes: readonly BenchChild[],
    private readonly everyMs = 250,
  ) {}

  /** Takes the Redis baseline and begins sampling. */
  async start(): Promise<void> {
    this.baseline = await usedMemory(this.redis);
    this.peak = this.baseline;
    this.timer = setInterval(() => {
      this.sampling = this.sampling.then(() => this.sample()).catch(() => undefined);
    }, this.everyMs);
  }

  private async sample(): Promise<void> {
    for (const child of this.processes) {
      const { rss } = child.memory();
      if (Number.isFinite(rss)) this.rss.set(child.name, Math.max(this.rss.get(child.name) ?? 0, rss));
    }
    const used = await usedMemory(this.redis);
    if (Number.isFinite(used)) this.peak = Math.max(this.peak, used);
  }

  /** Stops sampling (call while the processes run, so that their VmHWM can be read); returns the peaks. */
  async stop(): Promise<ResourcePeaks> {
    clearInterval(this.timer);
    await this.sampling;
    await this.sample();
    for (const child of this.processes) {
      const { peak } = child.memory();
      if (Number.isFinite(peak)) this.rss.set(child.name, Math.max(this.rss.get(child.name) ?? 0, peak));
    }
    return { rssBytes: new Map(this.rss), redisPeakDeltaBytes: this.peak - this.baseline };
  }
}
