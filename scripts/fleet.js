#!/usr/bin/env node
// The `fleet` executable. In a source checkout it runs the TypeScript through tsx, tools included
// (scripts/fleet.ts); a build has only the production verbs, bundled in dist/.
import { existsSync } from 'node:fs';

const source = new URL('./fleet.ts', import.meta.url);
if (existsSync(source)) {
  const { register } = await import('tsx/esm/api');
  register();
  await import(source.href);
} else {
  await import(new URL('../dist/fleet.js', import.meta.url).href);
}
