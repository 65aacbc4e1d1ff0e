import { expect, it } from 'vitest';
import { Progress } from '../../../scripts/cli/progress.js';

/** A stand-in for stderr that keeps what was written, and a clock the test moves. */
function setting(isTTY: boolean) {
  const written: string[] = [];
  let now = 0;
  const progress = new Progress({ isTTY, write: (text: string) => written.push(text) }, 10_000, () => now);
  return { progress, written, advance: (ms: number) => (now += ms) };
}

it('redraws one line on a terminal, and ends it when done', () => {
  const { progress, written } = setting(true);
  progress.update('replaying: 500/2000');
  progress.update('replaying: 1000/2000');
  progress.done();
  expect(written).toEqual(['\rreplaying: 500/2000\x1b[K', '\rreplaying: 1000/2000\x1b[K', '\n']);
});

it('writes a plain line at most every interval to a log, then the last state when done', () => {
  const { progress, written, advance } = setting(false);
  progress.update('replaying: 100/2000');
  advance(10_000);
  progress.update('replaying: 500/2000');
  advance(3_000);
  progress.update('replaying: 800/2000');
  progress.update('replaying: 2000/2000');
  progress.done();
  expect(written).toEqual(['replaying: 500/2000\n', 'replaying: 2000/2000\n']);
  expect(written.join('')).not.toContain('\r');
});

it('writes nothing to a log when done within the first interval: the result says it all', () => {
  const { progress, written, advance } = setting(false);
  progress.update('retrying: 1 failed batch queued');
  advance(2_000);
  progress.done();
  expect(written).toEqual([]);
});
