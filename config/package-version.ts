import { existsSync, readFileSync } from 'node:fs';

/**
 * The version in package.json. Looked for upwards from this file, as it sits one folder deeper in a build
 * (dist/config/) than in a checkout (config/).
 */
export function packageVersion(): string {
  for (let folder = new URL('./', import.meta.url); ; folder = new URL('../', folder)) {
    const file = new URL('package.json', folder);
    if (existsSync(file)) {
      const manifest = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (manifest.name === 'dossier-sync' && manifest.version) return manifest.version;
    }
    if (folder.pathname === '/') return 'unknown';
  }
}
