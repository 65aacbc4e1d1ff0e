import { expect, it } from 'vitest';
import { imageNodeOptions } from '../../../scripts/tools/bench-support.js';

// `--compiled` benchmarks run the workers as the image runs them: the build, and whatever NODE_OPTIONS the image sets
// (a heap size, say) — figures of workers run otherwise would describe a process no deployment runs.
it("takes the runtime stage's options only, quoted or not", () => {
  const stages = (options: string) =>
    `FROM node:20 AS build\nENV NODE_OPTIONS=--build-only\nFROM node:20-slim AS runtime\nENV NODE_OPTIONS=${options}\n`;
  expect(imageNodeOptions(stages('--max-old-space-size=160'))).toEqual(['--max-old-space-size=160']);
  expect(imageNodeOptions(stages('"--max-old-space-size=160 --max-semi-space-size=8"'))).toEqual([
    '--max-old-space-size=160',
    '--max-semi-space-size=8',
  ]);
  expect(imageNodeOptions('FROM node:20\nENV NODE_ENV=production\n')).toEqual([]);
});
