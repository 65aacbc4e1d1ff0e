import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';
import { runFleetApart } from './cli/run-fleet-apart.js';

// The simulator, the benchmarks and their verbs are tools of a checkout: the build compiles the production code
// path only, the image copies and runs only that (bundled: bundled-fleet-runs-its-verbs-as-the-image-runs-them),
// and the production `fleet` has no tool verb.

const root = fileURLToPath(new URL('../../', import.meta.url));
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const toolVerbs = /^ {2}(simulate|demo|bench)\b/m;

it('builds no file of the tools', async () => {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [tsc, '-p', 'tsconfig.build.json', '--listFilesOnly'],
    { cwd: root, maxBuffer: 16 * 1024 * 1024 },
  );
  const ours = stdout
    .split('\n')
    .filter((file) => file && !file.includes('/node_modules/'))
    .map((file) => relative(root, file));
  expect(ours).toContain('scripts/cli/fleet.ts');
  expect(ours).toContain('workers/fleet.ts');
  expect(ours.filter((file) => file.startsWith('scripts/') && !file.startsWith('scripts/cli/'))).toEqual([]);
});

it('copies and runs only the production fleet in the image', async () => {
  const dockerfile = await readFile(new URL('Dockerfile', `file://${root}`), 'utf8');
  expect(dockerfile.match(/^COPY scripts\S* .*$/gm)).toEqual([
    'COPY scripts/cli ./scripts/cli',
    'COPY scripts/build-bundle.ts ./scripts/build-bundle.ts',
  ]);
  // Node's own flags may come before the script (a GC setting); the script is the bundle, its verb `start`.
  expect(dockerfile).toMatch(/^ENTRYPOINT \["node", (?:"--[a-z-]+(?:=[^"]*)?", )*"dist\/fleet\.js", "start"\]$/m);
});

it('has no tool verb in the production fleet, and all of them in a checkout', async () => {
  const [production, checkout] = await Promise.all([
    runFleetApart(['--help'], {}, { production: true }),
    runFleetApart(['--help'], {}),
  ]);
  expect(production.code).toBe(0);
  expect(production.stdout).toMatch(/^ {2}connector\b/m);
  expect(production.stdout).not.toMatch(toolVerbs);
  expect(checkout.code).toBe(0);
  expect(checkout.stdout.match(new RegExp(toolVerbs.source, 'gm'))?.map((line) => line.trim())).toEqual([
    'simulate',
    'demo',
    'bench',
  ]);
  expect((await runFleetApart(['demo'], {}, { production: true })).stderr).toMatch(/unknown command 'demo'/);
});
