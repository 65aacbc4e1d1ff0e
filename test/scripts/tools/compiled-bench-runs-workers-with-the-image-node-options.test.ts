import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { imageNodeOptions } from '../../../scripts/tools/bench-support.js';

// `--compiled` benchmarks run the workers as the image runs them: the build, and whatever Node options the image
// gives them (a heap size, a GC flag) — figures of workers run otherwise would describe a process no deployment runs.
it("takes the runtime stage's NODE_OPTIONS only, quoted or not", () => {
  const stages = (options: string) =>
    `FROM node:20 AS build\nENV NODE_OPTIONS=--build-only\nFROM node:20-slim AS runtime\nENV NODE_OPTIONS=${options}\n`;
  expect(imageNodeOptions(stages('--max-old-space-size=160'))).toEqual(['--max-old-space-size=160']);
  expect(imageNodeOptions(stages('"--max-old-space-size=160 --max-semi-space-size=8"'))).toEqual([
    '--max-old-space-size=160',
    '--max-semi-space-size=8',
  ]);
  expect(imageNodeOptions('FROM node:20\nENV NODE_ENV=production\n')).toEqual([]);
});

it("takes the flags the runtime stage's entrypoint gives Node before the script, after NODE_OPTIONS", () => {
  const image = [
    'FROM node:20 AS build',
    'ENTRYPOINT ["node", "--build-only", "build.js"]',
    'FROM node:20-slim AS runtime',
    'ENV NODE_OPTIONS=--max-old-space-size=256',
    'ENTRYPOINT ["node", "--heap-growing-percent=25", "--max-semi-space-size=8", "dist/fleet.js", "start", "--x"]',
    'CMD ["--role", "all"]',
  ].join('\n');
  expect(imageNodeOptions(image)).toEqual([
    '--max-old-space-size=256',
    '--heap-growing-percent=25',
    '--max-semi-space-size=8',
  ]);
  expect(imageNodeOptions('FROM node:20\nENTRYPOINT ["node", "dist/fleet.js", "start"]\n')).toEqual([]);
});

it("reads this repository's Dockerfile", () => {
  const dockerfile = readFileSync(new URL('../../../Dockerfile', import.meta.url), 'utf8');
  const entrypoint = /^ENTRYPOINT\s+(\[.*\])\s*$/m.exec(dockerfile.slice(dockerfile.lastIndexOf('\nFROM ')))?.[1];
  const command = JSON.parse(entrypoint!) as string[];
  expect(imageNodeOptions(dockerfile)).toEqual(command.slice(1, command.indexOf('dist/fleet.js')));
});
