/**
 * Paces a connector's requests to its province system: every HTTP call a connector makes goes through
 * `run`. The fleet passes one held in Redis, so the limit holds across every poller on every machine; a
 * connector built outside the fleet (a check, a test) paces itself in-process.
 */
export interface RequestGate {
  run<T>(request: () => Promise<T>): Promise<T>;
}

export type { RateLimit } from './source-policy.js';
