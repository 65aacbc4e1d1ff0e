// `npm run build`: the production fleet (scripts/cli/fleet.ts and what it imports, node_modules included) bundled
// into dist/fleet.js and the chunks its verbs load on demand. Node loads a build of hundreds of module files one
// file at a time — about 0.4 s of every command's start on this machine, most of a `fleet reconcile --report`;
// the bundle is a few files. The image runs `node dist/fleet.js`.
import { copyFileSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Metafile } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));

/**
 * What the bundled code reads beside itself at run time (`new URL('./file', import.meta.url)`): every chunk sits
 * in the bundle's one folder, so these files are copied into it.
 */
const dataFiles = [
  'config/provinces.json',
  ...readdirSync(join(root, 'workers/redis-scripts'))
    .filter((file) => file.endsWith('.lua'))
    .map((file) => `workers/redis-scripts/${file}`),
];

/**
 * Packages left to node_modules: Bull Board serves its dashboard's files from its own package folder, which a
 * bundle does not have.
 */
const external = ['@bull-board/*'];

/** Bundles the production fleet into `outdir` (emptied first); returns esbuild's account of the inputs. */
export async function bundleFleet(outdir: string): Promise<Metafile> {
  rmSync(outdir, { recursive: true, force: true });
  mkdirSync(outdir, { recursive: true });
  const result = await build({
    entryPoints: { fleet: join(root, 'scripts/cli/fleet.ts') },
    outdir,
    bundle: true,
    // Each verb's module is imported when the verb runs (scripts/cli/program.ts): a chunk of its own.
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    external,
    // CommonJS packages inside an ES module bundle still call require() for Node's own modules.
    banner: {
      js: "import { createRequire as bundleRequire } from 'node:module';\nconst require = bundleRequire(import.meta.url);",
    },
    metafile: true,
    logLevel: 'warning',
  });
  for (const file of dataFiles) copyFileSync(join(root, file), join(outdir, file.split('/').pop()!));
  return result.metafile;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const outdir = join(root, 'dist');
  const metafile = await bundleFleet(outdir);
  const files = Object.keys(metafile.outputs).filter((file) => file.endsWith('.js')).length;
  console.log(
    `bundled the production fleet into ${outdir}: ${files} files, ${Object.keys(metafile.inputs).length} modules`,
  );
}
