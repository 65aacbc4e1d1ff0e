import { readFileSync } from 'node:fs';
import type { RedisConnection } from '../redis.js';

// The fleet's Lua scripts live in their own files beside this module (the build copies them beside its output),
// are read once per process, and are defined once per connection with ioredis `defineCommand`: a call sends
// EVALSHA, and the whole script only the first time on a connection, or again when Redis has lost its script
// cache (NOSCRIPT) — never on every call.

/**
 * Every script: its file, and how many of its arguments are keys (all on one Redis Cluster shard); `null` when the
 * caller says, as the first argument.
 */
const scriptFiles = {
  ledgerClaim: { file: 'ledger-claim.lua', keys: null },
  ledgerCommit: { file: 'ledger-commit.lua', keys: 4 },
  ledgerSliceBits: { file: 'ledger-slice-bits.lua', keys: 2 },
  releaseIfHeld: { file: 'release-if-held.lua', keys: 1 },
  renewIfHeld: { file: 'renew-if-held.lua', keys: 1 },
  takeRequestLease: { file: 'take-request-lease.lua', keys: 2 },
} as const;

type ScriptName = keyof typeof scriptFiles;

const sources = Object.fromEntries(
  Object.entries(scriptFiles).map(([name, { file }]) => [
    name,
    readFileSync(new URL(`./${file}`, import.meta.url), 'utf8'),
  ]),
) as Record<ScriptName, string>;

/** An argument of a script: binary ones (a digest) as a Buffer. */
type ScriptArgument = string | number | Buffer;

/** The fleet's scripts on one connection. Each resolves with the script's integer reply, unless said otherwise. */
export interface RedisScripts {
  /**
   * Claims a delivery in the idempotency ledger or finds its answer (ledger-claim.lua): `keys` are the claim, the
   * long answer and the slices' buckets, newest first. Resolves with the script's reply: `['claimed']`, `['wait']`,
   * `['reused']` or `['answered', code]`.
   */
  ledgerClaim(keys: string[], field: Buffer, token: string, claimTtlMs: number, bodyDigest: string): Promise<string[]>;
  /** Records a delivery's answer in place of its claim (ledger-commit.lua). */
  ledgerCommit(
    claim: string,
    bucket: string,
    counts: string,
    longAnswer: string,
    field: Buffer,
    entry: string,
    expireAt: number,
    token: string,
    long: string,
  ): Promise<number>;
  /** The bits of a ledger slice's bucket number, fixed the first time it is asked (ledger-slice-bits.lua). */
  ledgerSliceBits(
    counts: string,
    previousCounts: string,
    fewestBits: number,
    mostBits: number,
    perBucket: number,
    expireAt: number,
  ): Promise<number>;
  /** Deletes `key` if it still holds `token` (a lock or a claim its holder took): 1 if deleted, else 0. */
  releaseIfHeld(key: string, token: string): Promise<number>;
  /** Extends `key`'s life to `ttlMs` if it still holds `token`: 1 if renewed, else 0. */
  renewIfHeld(key: string, token: string, ttlMs: number): Promise<number>;
  /**
   * Takes a request lease of a connector's gate: 0 when taken, else how many milliseconds to wait before asking
   * again (take-request-lease.lua).
   */
  takeRequestLease(
    leases: string,
    nextStart: string,
    token: string,
    requestsPerSecond: number,
    concurrentRequests: number,
    leaseMs: number,
  ): Promise<number>;
}

/** The command name a script is defined under: apart from every command ioredis has of its own. */
const commandOf = (name: ScriptName) => `fleetScript_${name}`;

const defined = new WeakMap<RedisConnection, RedisScripts>();

/** The fleet's scripts on `redis`, defined on it the first time they are asked for. */
export function redisScripts(redis: RedisConnection): RedisScripts {
  let scripts = defined.get(redis);
  if (!scripts) {
    const commands = redis as unknown as Record<string, (...args: ScriptArgument[]) => Promise<unknown>>;
    const define = (name: ScriptName) => {
      const keys = scriptFiles[name].keys;
      redis.defineCommand(commandOf(name), { ...(keys === null ? {} : { numberOfKeys: keys }), lua: sources[name] });
      return (...args: ScriptArgument[]) => commands[commandOf(name)]!(...args);
    };
    const command = (name: ScriptName) => {
      const call = define(name);
      return async (...args: ScriptArgument[]) => Number(await call(...args));
    };
    const claim = define('ledgerClaim');
    scripts = {
      ledgerClaim: async (keys, ...args) => (await claim(keys.length, ...keys, ...args)) as string[],
      ledgerCommit: command('ledgerCommit'),
      ledgerSliceBits: command('ledgerSliceBits'),
      releaseIfHeld: command('releaseIfHeld'),
      renewIfHeld: command('renewIfHeld'),
      takeRequestLease: command('takeRequestLease'),
    };
    defined.set(redis, scripts);
  }
  return scripts;
}
