import { randomBytes } from 'node:crypto';
import { cpSync, readdirSync, rmSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import type { TestProject } from 'vitest/node';

// Vitest's global setup: the checkout's TypeScript transpiled to JavaScript once per run, for the `fleet` processes
// the tests start. Run from source, each of those processes registered tsx and sent each of its hundreds of modules
// through tsx's loader thread: 1.5–2 s of CPU before its first line, for each of the suite's few hundred
// invocations. The transpile is what tsx does file by file (esbuild, no bundling, the same layout and file names,
// every other file copied beside it), so paths relative to a module resolve as they do in the checkout and
// node_modules is found in the checkout's root.

declare module 'vitest' {
  export interface ProvidedContext {
    /** The run's transpiled copy of the checkout (see test/support/fleet-executables.ts). */
    transpiledCheckout: string;
  }
}

const repository = fileURLToPath(new URL('../..', import.meta.url));
/** The folders a `fleet` process runs from; tests are never run from the copy. */
const sourceFolders = ['config', 'connectors', 'db', 'scripts', 'workers'];

function filesUnder(folder: string): string[] {
  return readdirSync(folder, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name));
}

/** Transpiles the checkout into `.test-build/<run>/`; the returned teardown removes it. */
export default async function setup(project: TestProject): Promise<() => void> {
  const out = join(repository, '.test-build', randomBytes(4).toString('hex'));
  const files = sourceFolders.flatMap((folder) => filesUnder(join(repository, folder)));
  await build({
    entryPoints: files.filter((file) => file.endsWith('.ts')),
    outdir: out,
    outbase: repository,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    logLevel: 'warning',
  });
  // scripts/fleet.js is the source checkout's launcher (it registers tsx); the copy's is scripts/fleet.ts transpiled.
  const launcher = join(repository, 'scripts', 'fleet.js');
  for (const file of files) {
    if (file.endsWith('.ts') || file === launcher) continue;
    cpSync(file, join(out, relative(repository, file)));
  }
  // The package's "type": "module" makes the copy's .js files ES modules, and its version is read from it.
  cpSync(join(repository, 'package.json'), join(out, 'package.json'));
  project.provide('transpiledCheckout', out);
  return () => rmSync(out, { recursive: true, force: true });
}
