import { expect, it } from 'vitest';
import { progressLine } from '../../../scripts/cli/commands/backfill.js';
import { Progress } from '../../../scripts/cli/progress.js';

const counts = { windowsDone: 30, windowsTotal: 90, records: 50_000, deadLetters: 3 };

it('says windows done of total, records, records/s and the time left at the pace of this process', () => {
  // Resumed at window 10: 20 windows in 100 s, so 60 more take 300 s.
  expect(progressLine('sim-79', '4', counts, 0, 10, 100_000)).toBe(
    'backfill sim-79 run 4: windows 30/90, 50000 records, 500 records/s, ETA 0:05:00',
  );
  expect(progressLine('sim-79', '4', { ...counts, windowsDone: 10 }, 0, 10, 100_000)).toMatch(/ETA \?$/);
});

it('is one line redrawn on a terminal, and a plain line in a log', () => {
  const written: string[] = [];
  const terminal = new Progress({ isTTY: true, write: (text: string) => written.push(text) });
  terminal.update(progressLine('sim-79', '4', counts, 0, 10, 100_000));
  terminal.done();
  expect(written).toEqual([
    '\rbackfill sim-79 run 4: windows 30/90, 50000 records, 500 records/s, ETA 0:05:00\x1b[K',
    '\n',
  ]);
  const logged: string[] = [];
  let clock = 0;
  const log = new Progress({ write: (text: string) => logged.push(text) }, 10_000, () => clock);
  clock = 10_000;
  log.update(progressLine('sim-79', '4', counts, 0, 10, 100_000));
  expect(logged).toEqual(['backfill sim-79 run 4: windows 30/90, 50000 records, 500 records/s, ETA 0:05:00\n']);
});
