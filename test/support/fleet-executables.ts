import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inject } from 'vitest';

// The `fleet` a test starts: the run's transpiled copy of the checkout (test/support/transpiled-checkout.ts) when the
// run made one, else the source (a config without that global setup, such as a chaos fixture's).

const source = (path: string) => fileURLToPath(new URL(`../../${path}`, import.meta.url));

function inTranspiledCheckout(path: string): string | null {
  const copy = inject('transpiledCheckout');
  return copy ? join(copy, path) : null;
}

/** The checkout's `fleet`: the production verbs and the tools (scripts/fleet.ts). Run as `node <it> …`. */
export function checkoutFleetScript(): string {
  return inTranspiledCheckout('scripts/fleet.js') ?? source('scripts/fleet.js');
}

/**
 * The production `fleet` (scripts/cli/fleet.ts, what the image runs compiled): `node <it> …` from the copy, or the
 * source's arguments through tsx.
 */
export function productionFleetArguments(tsxLoader: string): string[] {
  const copy = inTranspiledCheckout('scripts/cli/fleet.js');
  return copy ? [copy] : ['--import', tsxLoader, source('scripts/cli/fleet.ts')];
}
