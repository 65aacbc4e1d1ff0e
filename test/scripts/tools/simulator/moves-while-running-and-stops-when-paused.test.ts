import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ProvinceSimulator } from '../../../../scripts/tools/simulator/province-simulator.js';

// Only the movement timer is faked: the tests drive ticks exactly, while HTTP and Date stay real.
beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
});
let simulator: ProvinceSimulator | undefined;
afterEach(async () => {
  await simulator?.stop();
  vi.useRealTimers();
});

async function changes(url: string): Promise<{ changes: number; paused: boolean }> {
  return (await (await fetch(`${url}/_sim/health`)).json()) as { changes: number; paused: boolean };
}

const options = {
  provinces: ['01'],
  dossiersPerProvince: 500,
  baseTime: new Date('2026-03-01T03:00:00Z'),
  tickMs: 1000,
};

describe('movement ticks', () => {
  it('moves changesPerTick dossiers every tick once started', async () => {
    simulator = new ProvinceSimulator({ ...options, changesPerTick: 3 });
    const url = await simulator.start();

    vi.advanceTimersByTime(4000);

    expect((await changes(url)).changes).toBe(12);
  });

  it('defaults to 0.2% of all dossiers per tick, at least one', async () => {
    simulator = new ProvinceSimulator({ ...options, provinces: ['01', '79'] }); // 1000 dossiers: 2 a tick
    const url = await simulator.start();

    vi.advanceTimersByTime(1000);

    expect((await changes(url)).changes).toBe(2);
  });

  it('does not move before start nor after stop', async () => {
    simulator = new ProvinceSimulator({ ...options, changesPerTick: 3 });
    vi.advanceTimersByTime(5000);
    const url = await simulator.start();
    expect((await changes(url)).changes).toBe(0);

    await simulator.stop();
    const versions = [...simulator.truth()].map((row) => row.version);
    vi.advanceTimersByTime(5000);

    expect([...simulator.truth()].map((row) => row.version)).toEqual(versions);
  });

  it('stops on POST /_sim/pause and goes on after POST /_sim/resume', async () => {
    simulator = new ProvinceSimulator({ ...options, changesPerTick: 3 });
    const url = await simulator.start();
    vi.advanceTimersByTime(1000);

    expect((await fetch(`${url}/_sim/pause`, { method: 'POST' })).status).toBe(204);
    vi.advanceTimersByTime(5000);
    expect(await changes(url)).toMatchObject({ changes: 3, paused: true });

    expect((await fetch(`${url}/_sim/resume`, { method: 'POST' })).status).toBe(204);
    vi.advanceTimersByTime(2000);
    expect(await changes(url)).toMatchObject({ changes: 9, paused: false });
  });

  it('starts paused when asked, and pause() / resume() work in-process too', async () => {
    simulator = new ProvinceSimulator({ ...options, changesPerTick: 3, paused: true });
    const url = await simulator.start();
    vi.advanceTimersByTime(5000);
    expect(await changes(url)).toMatchObject({ changes: 0, paused: true });

    simulator.resume();
    vi.advanceTimersByTime(1000);
    simulator.pause();
    vi.advanceTimersByTime(5000);

    expect(await changes(url)).toMatchObject({ changes: 3, paused: true });
  });
});
