import { expect, it } from 'vitest';
import { CoalescingWrite } from '../../workers/coalescing-write.js';
import { waitFor } from '../support/test-environment.js';

// The hot path's notes (a poll run's page, a committed push batch) cost the database one statement at a time at
// most, however fast they come; what is noted meanwhile is merged, and a failed write is tried again.

interface Tally {
  key: string;
  count: number;
}
const sum = (earlier: Tally, later: Tally): Tally => ({ key: later.key, count: earlier.count + later.count });

/** A write the test lets finish when it wants. */
function gatedWrites() {
  const writes: Tally[][] = [];
  const gates: { release: () => void; fail: (error: Error) => void }[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const write = (values: Tally[]) => {
    writes.push(values);
    inFlight += 1;
    maxInFlight = Math.max(maxInFlight, inFlight);
    return new Promise<void>((resolve, reject) => {
      gates.push({
        release: () => {
          inFlight -= 1;
          resolve();
        },
        fail: (error) => {
          inFlight -= 1;
          reject(error);
        },
      });
    });
  };
  return { write, writes, gates, maxInFlight: () => maxInFlight };
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 5));

it('writes the first note at once and everything noted during that write in one more write, merged by key', async () => {
  const { write, writes, gates, maxInFlight } = gatedWrites();
  const coalescing = new CoalescingWrite<Tally>(write, sum, () => {});
  coalescing.note('a', { key: 'a', count: 1 });
  expect(writes).toEqual([[{ key: 'a', count: 1 }]]);
  for (let i = 0; i < 100; i++) coalescing.note(i % 2 === 0 ? 'a' : 'b', { key: i % 2 === 0 ? 'a' : 'b', count: 1 });
  expect(writes).toHaveLength(1);
  gates[0]!.release();
  await tick();
  expect(writes[1]).toEqual([
    { key: 'a', count: 50 },
    { key: 'b', count: 50 },
  ]);
  gates[1]!.release();
  await coalescing.close();
  expect(maxInFlight()).toBe(1);
  expect(writes).toHaveLength(2);
});

it('tells a failed write and tries it again, after its delay, with what was noted meanwhile', async () => {
  const { write, writes, gates } = gatedWrites();
  const failures: unknown[] = [];
  const coalescing = new CoalescingWrite<Tally>(write, sum, (error) => failures.push(error), 20);
  coalescing.note('a', { key: 'a', count: 2 });
  coalescing.note('a', { key: 'a', count: 3 });
  gates[0]!.fail(new Error('Postgres is down'));
  await tick();
  expect(failures).toHaveLength(1);
  coalescing.note('a', { key: 'a', count: 4 });
  // Not at once: the retry waits its delay, then carries everything.
  expect(writes).toHaveLength(1);
  await waitFor(() => writes.length === 2, 'the write tried again', 10_000, 5);
  expect(writes[1]).toEqual([{ key: 'a', count: 9 }]);
  gates[1]!.release();
  await coalescing.close();
  expect(writes).toHaveLength(2);
});

it('writes what is left when closed, cutting a retry delay short', async () => {
  const { write, writes, gates } = gatedWrites();
  const coalescing = new CoalescingWrite<Tally>(write, sum, () => {}, 600_000);
  coalescing.note('a', { key: 'a', count: 9 });
  gates[0]!.fail(new Error('Postgres is down'));
  await tick();
  coalescing.note('b', { key: 'b', count: 1 });
  const closed = coalescing.close();
  await tick();
  expect(writes[1]).toEqual([
    { key: 'a', count: 9 },
    { key: 'b', count: 1 },
  ]);
  gates[1]!.release();
  await closed;
  expect(writes).toHaveLength(2);
  // Closed: a note is kept for no later write.
  coalescing.note('c', { key: 'c', count: 1 });
  await tick();
  expect(writes).toHaveLength(2);
});
