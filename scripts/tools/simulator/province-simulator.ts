import { createHash, timingSafeEqual } from 'node:crypto';
import { Readable } from 'node:stream';
import { fastify, type FastifyInstance } from 'fastify';
import { truncateTo } from './business-calendar.js';
import { CursorIndex } from './cursor-index.js';
import type { DialectContext } from './dialects/dialect-context.js';
import { registerDvcDialect } from './dialects/dvc-dialect.js';
import { registerIgateDialect } from './dialects/igate-dialect.js';
import { registerLgspSoapDialect } from './dialects/lgsp-soap-dialect.js';
import { generateProvinceDossiers } from './dossier-generator.js';
import { driftKinds, injectDrift, type DriftKind, type DriftReport, type DriftSettings } from './drift-injection.js';
import { BadRequestError, parseDossierQuery } from './dossier-query.js';
import { registerPortalReconcileRoutes } from './portal-reconcile-routes.js';
import { toPortalItem, toTruthRow, type TruthRow } from './portal-wire-format.js';
import { ProvinceSummaries } from './province-summaries.js';
import { deriveSeed, seededRandom, type Random } from './seeded-random.js';
import type { SimulatedDossier } from './simulated-dossier.js';
import { isFinal, moveOneStep } from './status-movement.js';

export type { TruthRow } from './portal-wire-format.js';
export type { DriftKind, DriftReport, DriftSettings } from './drift-injection.js';

/**
 * Secrets the vendor dialects check (wire formats in dialects/README.md). Each dialect checks only its own
 * and stays open, accepting requests without auth, while its credential is unset. Default: all unset.
 */
export interface SimulatorCredentials {
  /** dvc: the `apikey` query parameter of `GET /dvc/v2/records`. */
  apiKey?: string;
  /** igate: the OAuth2 client id `POST /igate/oauth/token` accepts; set together with clientSecret. */
  clientId?: string;
  /** igate: the OAuth2 client secret; set together with clientId. */
  clientSecret?: string;
  /** lgsp-soap: the HTTP Basic user name; set together with password. */
  username?: string;
  /** lgsp-soap: the HTTP Basic password; set together with username. */
  password?: string;
  /** dvc: a static token accepted as `Authorization: Bearer <token>` instead of the apikey. */
  bearerToken?: string;
}

/** How a simulated set of province systems behaves. */
export interface SimulatorOptions {
  /** Current (2025) province codes served, e.g. ['01', '79']; each a two-digit string. */
  provinces: string[];
  /** How many dossiers each province starts with. */
  dossiersPerProvince: number;
  /** Default 1. The same seed and baseTime give identical initial dossiers. */
  seed?: number;
  /** Default: now at construction. Initial NgayCapNhat values are spread over the 30 days before it. */
  baseTime?: Date;
  /** Default 200. Milliseconds between movement ticks. */
  tickMs?: number;
  /** Default max(1, round(0.002 × total dossiers)). Dossiers moved one status step per tick. */
  changesPerTick?: number;
  /** Default 'second'. NgayCapNhat is truncated to it, like a coarse vendor clock. */
  updatedAtPrecision?: 'second' | 'minute';
  /** Default false. When true every initial NgayCapNhat is the same instant, for tie tests. */
  sameUpdatedAt?: boolean;
  /** Default 0. This fraction of dossiers (chosen by the seed) is served malformed. */
  malformedRate?: number;
  /** Default none. A province's own malformed fraction, instead of `malformedRate` (chaos: one bad province). */
  malformedRateByProvince?: Record<string, number>;
  /** Default none. When set, /api requests must carry header `X-Api-Key: <key>` or get 401. */
  apiKey?: string;
  /** Default none (every vendor dialect open). The secrets of the vendor dialects, see SimulatorCredentials. */
  credentials?: SimulatorCredentials;
  /** Default 300. Lifetime of an igate OAuth2 access token in whole seconds; tests set 1–2 to expire one mid-sync. */
  tokenTtlSeconds?: number;
  /** Default false. Start with movement paused. */
  paused?: boolean;
  /**
   * Default true. Compute every dossier's summary hash in the background once started (seconds of CPU and ~100 MB
   * for 1,000,000 dossiers), so a first summary request does not wait for it; false leaves it to the first summary.
   */
  warmSummaries?: boolean;
  /**
   * Default false. Keep every request to the dialects (not `/_sim/`) in `requests`, with when it arrived: for tests of
   * how a client paces itself. Grows with the requests: not for a long run.
   */
  recordRequests?: boolean;
}

/** A request the simulator received (with `recordRequests`): when (Date.now()), and its method and URL. */
export interface ReceivedRequest {
  at: number;
  method: string;
  url: string;
}

interface ProvinceState {
  dossiers: SimulatedDossier[];
  index: CursorIndex;
  /** The same dossiers by code, for fetches by code and drift. */
  byCode: Map<string, SimulatedDossier>;
  /** Summaries computed from `index` (reconciliation). */
  summaries: ProvinceSummaries;
}

/** How one province's system misbehaves, for rehearsing failures (chaos tests): set and cleared at run time. */
export interface ProvinceFault {
  /** Fraction of requests answered HTTP 503. */
  failureRate?: number;
  /** Every request is held this long before it is answered: longer than a client's timeout, it times out. */
  delayMs?: number;
  /** The system is down: every connection is closed without an answer. */
  down?: boolean;
}

/**
 * Stands in for provinces' one-stop-shop systems: serves dossiers by updated-since cursor in the national
 * portal dialect (`/api/dossiers`) and, from the same dossiers at the same time, in three vendor dialects
 * (`/igate`, `/dvc`, `/lgsp`, see dialects/README.md); moves their statuses while running, and tells the
 * truth about them (`/_sim/truth`) so a sync through any dialect can be checked end to end.
 */
export class ProvinceSimulator {
  private readonly provinces = new Map<string, ProvinceState>();
  private readonly faults = new Map<string, ProvinceFault>();
  /** Dossiers that can still move; final ones leave so late ticks do not waste picks on them. */
  private readonly movable: SimulatedDossier[] = [];
  private readonly random: Random;
  /** Drift has its own stream, so injecting it does not change which dossiers movement picks next. */
  private readonly driftRandom: Random;
  private readonly baseTime: number;
  private readonly tickMs: number;
  private readonly changesPerTick: number;
  private readonly dossierCount: number;
  private readonly precision: 'second' | 'minute';
  private readonly apiKeyDigest: Buffer | null;
  private readonly dialectContext: DialectContext;
  private paused: boolean;
  private readonly warmSummaries: boolean;
  private readonly recordRequests: boolean;
  /** The requests received, oldest first, when `recordRequests` is set. */
  readonly requests: ReceivedRequest[] = [];
  private changes = 0;
  private server: FastifyInstance | null = null;
  private timer: NodeJS.Timeout | null = null;

  /** Generates every province's dossiers up front; throws on invalid options. */
  constructor(options: SimulatorOptions) {
    validate(options);
    const seed = options.seed ?? 1;
    this.baseTime = (options.baseTime ?? new Date()).getTime();
    this.tickMs = options.tickMs ?? 200;
    this.precision = options.updatedAtPrecision ?? 'second';
    this.paused = options.paused ?? false;
    this.warmSummaries = options.warmSummaries ?? true;
    this.recordRequests = options.recordRequests ?? false;
    this.apiKeyDigest = options.apiKey === undefined ? null : digest(options.apiKey);
    this.random = seededRandom(deriveSeed(seed, 'movement'));
    this.driftRandom = seededRandom(deriveSeed(seed, 'drift'));
    this.dialectContext = {
      indexOf: (provinceCode) => this.provinces.get(provinceCode)?.index,
      provinceOf: (provinceCode) => this.provinces.get(provinceCode),
      credentials: { ...options.credentials },
      tokenTtlSeconds: options.tokenTtlSeconds ?? 300,
    };
    for (const provinceCode of options.provinces) {
      const dossiers = generateProvinceDossiers(provinceCode, options.dossiersPerProvince, {
        seed,
        baseTime: new Date(this.baseTime),
        updatedAtPrecision: this.precision,
        sameUpdatedAt: options.sameUpdatedAt ?? false,
        malformedRate: options.malformedRateByProvince?.[provinceCode] ?? options.malformedRate ?? 0,
      });
      const index = new CursorIndex(dossiers);
      const byCode = new Map(dossiers.map((dossier) => [dossier.code, dossier]));
      this.provinces.set(provinceCode, { dossiers, index, byCode, summaries: new ProvinceSummaries(index) });
      for (const dossier of dossiers) if (!isFinal(dossier.status)) this.movable.push(dossier);
    }
    this.dossierCount = options.provinces.length * options.dossiersPerProvince;
    this.changesPerTick = options.changesPerTick ?? Math.max(1, Math.round(0.002 * this.dossierCount));
  }

  /** Starts serving on the port (0: any free one) and starts movement unless paused; resolves to the base URL. */
  async start(port = 0, host = '127.0.0.1'): Promise<string> {
    if (this.server) throw new Error('the simulator is already started');
    const server = this.buildServer();
    const url = await server.listen({ port, host });
    this.server = server;
    if (!this.paused) this.startTimer();
    // Summary hashes are computed in the background while serving, not by the first summary request.
    if (this.warmSummaries)
      for (const { summaries } of this.provinces.values()) void summaries.warm(() => this.server !== server);
    return url;
  }

  /** Stops movement and the server; the dossiers keep their state, so it can be started again. */
  async stop(): Promise<void> {
    this.stopTimer();
    const server = this.server;
    this.server = null;
    await server?.close();
  }

  /** Stops movement until `resume`. */
  pause(): void {
    this.paused = true;
    this.stopTimer();
  }

  /** Restarts movement (once started). */
  resume(): void {
    this.paused = false;
    if (this.server) this.startTimer();
  }

  /** Moves `count` dossiers one step now, paused or not, for exact control in tests; returns how many moved. */
  advance(count = this.changesPerTick): number {
    let moved = 0;
    while (moved < count && this.movable.length > 0) {
      this.moveRandomDossier();
      moved++;
    }
    return moved;
  }

  /** The current state of every dossier, province by province in sequence order; read lazily. */
  *truth(): Iterable<TruthRow> {
    for (const { dossiers } of this.provinces.values()) {
      for (const dossier of dossiers) yield toTruthRow(dossier);
    }
  }

  /**
   * Makes `count` dossiers of a province drift from what a consumer has seen, the way `kind` says
   * (drift-injection.ts), picked spread over the whole period and seeded; returns exactly which changed and how.
   * The pages, summaries and truth all reflect it at once.
   */
  injectDrift(provinceCode: string, kind: DriftKind, settings: DriftSettings): DriftReport {
    const province = this.provinces.get(provinceCode);
    if (!province) throw new Error(`province ${JSON.stringify(provinceCode)} is not served here`);
    if (!(driftKinds as readonly string[]).includes(kind))
      throw new Error(`drift kind ${JSON.stringify(kind)} is not one of ${driftKinds.join(', ')}`);
    if (!Number.isInteger(settings.count) || settings.count < 1)
      throw new Error('count must be a positive whole number');
    const lookback = settings.lookbackSeconds;
    if (lookback !== undefined && !(Number.isInteger(lookback) && lookback >= 0))
      throw new Error('lookbackSeconds must be a whole number, 0 or more');
    const ordered = [...province.index.slicesBetween(-Infinity, Infinity)].flatMap(({ run, start, end }) =>
      run.slice(start, end),
    );
    const deleted = new Set<SimulatedDossier>();
    const report = injectDrift(
      provinceCode,
      kind,
      {
        index: province.index,
        ordered,
        random: this.driftRandom,
        precision: this.precision,
        forget: (dossier) => {
          deleted.add(dossier);
          province.byCode.delete(dossier.code);
        },
      },
      settings,
    );
    if (deleted.size > 0) province.dossiers = province.dossiers.filter((dossier) => !deleted.has(dossier));
    // A drifted dossier may have become final, or movable again (a restored backup), or be gone.
    this.movable.length = 0;
    for (const { dossiers } of this.provinces.values())
      for (const dossier of dossiers) if (!isFinal(dossier.status)) this.movable.push(dossier);
    return report;
  }

  private moveRandomDossier(): void {
    const position = this.random.int(0, this.movable.length - 1);
    const dossier = this.movable[position] as SimulatedDossier;
    const now = Date.now();
    // NgayCapNhat never goes backwards, even when baseTime (and so the initial stamps) is ahead of the wall clock.
    const updatedAt = Math.max(dossier.updatedAt, truncateTo(now, this.precision));
    const { index } = this.provinces.get(dossier.provinceCode) as ProvinceState;
    index.update(dossier, () => {
      moveOneStep(dossier, this.random, Math.max(now, this.baseTime));
      dossier.version += 1;
      dossier.updatedAt = updatedAt;
    });
    this.changes += 1;
    if (isFinal(dossier.status)) {
      this.movable[position] = this.movable[this.movable.length - 1] as SimulatedDossier;
      this.movable.pop();
    }
  }

  private startTimer(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.advance(), this.tickMs);
    this.timer.unref(); // a forgotten simulator must not keep a test run or CLI alive
  }

  private stopTimer(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Makes a province's system misbehave (or behave again, with null), in every dialect that names the province. */
  setFault(provinceCode: string, fault: ProvinceFault | null): void {
    if (fault) this.faults.set(provinceCode, fault);
    else this.faults.delete(provinceCode);
  }

  private buildServer(): FastifyInstance {
    const server = fastify({ logger: false });

    if (this.recordRequests)
      server.addHook('onRequest', async (request) => {
        if (!request.url.startsWith('/_sim/'))
          this.requests.push({ at: Date.now(), method: request.method, url: request.url });
      });

    // Faults apply before anything else, as a real failing system fails before it authenticates anyone.
    server.addHook('onRequest', async (request, reply) => {
      if (this.faults.size === 0 || request.url.startsWith('/_sim/')) return;
      const query = request.query as Record<string, unknown>;
      const fromPath = /\/provinces\/(\d{2})\//.exec(request.url)?.[1];
      const fault = this.faults.get(String(query.province ?? fromPath ?? ''));
      if (!fault) return;
      if (fault.down) {
        request.raw.socket.destroy();
        return reply.hijack();
      }
      if (fault.delayMs) await new Promise((resolve) => setTimeout(resolve, fault.delayMs));
      if (fault.failureRate && Math.random() < fault.failureRate) {
        return reply.code(503).send({ code: 'unavailable', message: 'simulated failure' });
      }
    });

    server.register(async (api) => {
      api.addHook('onRequest', async (request, reply) => {
        if (this.apiKeyDigest === null) return;
        const given = request.headers['x-api-key'];
        if (typeof given !== 'string' || !timingSafeEqual(digest(given), this.apiKeyDigest)) {
          return reply.code(401).send({ code: 'unauthorized', message: 'missing or wrong X-Api-Key header' });
        }
      });
      api.get('/api/dossiers', async (request, reply) => {
        try {
          const query = parseDossierQuery(request.query as Record<string, unknown>, this.provinces);
          const { index } = this.provinces.get(query.provinceCode) as ProvinceState;
          const { dossiers, hasMore } = index.page(query.start, query.limit, query.offset, query.updatedBefore);
          return { items: dossiers.map(toPortalItem), hasMore };
        } catch (error) {
          if (error instanceof BadRequestError)
            return reply.code(400).send({ code: 'bad_request', message: error.message });
          throw error;
        }
      });
      registerPortalReconcileRoutes(api, (provinceCode) => this.provinces.get(provinceCode));
    });

    // The vendor dialects: each in its own encapsulated plugin, so its auth and error shapes stay its own.
    registerIgateDialect(server, this.dialectContext);
    registerDvcDialect(server, this.dialectContext);
    registerLgspSoapDialect(server, this.dialectContext);

    // Control endpoints: for the rehearsal harness, never behind the API key.
    server.get('/_sim/truth', async (_request, reply) => {
      // Streamed rather than built in memory: 400,000 rows are tens of megabytes.
      return reply.type('application/x-ndjson').send(Readable.from(ndjsonLines(this.truth())));
    });
    server.post('/_sim/pause', async (_request, reply) => {
      this.pause();
      return reply.code(204).send();
    });
    server.post('/_sim/resume', async (_request, reply) => {
      this.resume();
      return reply.code(204).send();
    });
    server.post('/_sim/drift', async (request, reply) => {
      const body = (request.body ?? {}) as Record<string, unknown>;
      const { province, kind, count, lookbackSeconds } = body;
      if (typeof province !== 'string' || typeof kind !== 'string' || typeof count !== 'number')
        return reply.code(400).send({
          code: 'bad_request',
          message: `expected a JSON body {"province": "79", "kind": one of ${driftKinds.join(', ')}, "count": 10, "lookbackSeconds"?: 120}`,
        });
      if (lookbackSeconds !== undefined && typeof lookbackSeconds !== 'number')
        return reply.code(400).send({ code: 'bad_request', message: 'lookbackSeconds must be a number' });
      try {
        return this.injectDrift(province, kind as DriftKind, { count, lookbackSeconds });
      } catch (error) {
        return reply.code(400).send({ code: 'bad_request', message: (error as Error).message });
      }
    });
    server.get('/_sim/health', async () => ({
      ok: true,
      provinces: [...this.provinces.keys()],
      dossiers: [...this.provinces.values()].reduce((sum, { dossiers }) => sum + dossiers.length, 0),
      paused: this.paused,
      changes: this.changes,
    }));
    return server;
  }
}

function validate(options: SimulatorOptions): void {
  const { provinces, dossiersPerProvince } = options;
  if (!Array.isArray(provinces) || provinces.length === 0)
    throw new Error('provinces must list at least one province code');
  for (const code of provinces) {
    if (typeof code !== 'string' || !/^\d{2}$/.test(code))
      throw new Error(`province code ${JSON.stringify(code)} is not two digits`);
  }
  if (new Set(provinces).size !== provinces.length) throw new Error('provinces must not repeat a code');
  if (!Number.isInteger(dossiersPerProvince) || dossiersPerProvince < 0)
    throw new Error('dossiersPerProvince must be a whole number');
  if (options.seed !== undefined && !Number.isInteger(options.seed)) throw new Error('seed must be an integer');
  if (options.baseTime !== undefined && Number.isNaN(options.baseTime.getTime()))
    throw new Error('baseTime is not a valid date');
  if (options.tickMs !== undefined && !(options.tickMs > 0)) throw new Error('tickMs must be positive');
  if (
    options.changesPerTick !== undefined &&
    !(Number.isInteger(options.changesPerTick) && options.changesPerTick >= 1)
  ) {
    throw new Error('changesPerTick must be a positive integer');
  }
  const rate = options.malformedRate;
  if (rate !== undefined && !(rate >= 0 && rate <= 1)) throw new Error('malformedRate must be between 0 and 1');
  if (options.apiKey === '') throw new Error('apiKey must not be empty (leave it out to disable the check)');
  validateCredentials(options.credentials ?? {});
  const ttl = options.tokenTtlSeconds;
  if (ttl !== undefined && !(Number.isInteger(ttl) && ttl >= 1))
    throw new Error('tokenTtlSeconds must be a positive whole number');
}

function validateCredentials(credentials: SimulatorCredentials): void {
  for (const [name, value] of Object.entries(credentials)) {
    if (value !== undefined && (typeof value !== 'string' || value === '')) {
      throw new Error(`credentials.${name} must be a non-empty string (leave it out to disable the check)`);
    }
  }
  // Half a pair would lock a dialect with a secret nobody can present.
  if ((credentials.clientId === undefined) !== (credentials.clientSecret === undefined)) {
    throw new Error('credentials.clientId and credentials.clientSecret go together');
  }
  if ((credentials.username === undefined) !== (credentials.password === undefined)) {
    throw new Error('credentials.username and credentials.password go together');
  }
  // HTTP Basic splits user and password at the first colon.
  if (credentials.username?.includes(':')) throw new Error('credentials.username must not contain a colon');
}

function* ndjsonLines(rows: Iterable<unknown>): Generator<string> {
  for (const row of rows) yield `${JSON.stringify(row)}\n`;
}

/** Hashing both sides gives equal-length buffers for a constant-time comparison. */
function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}
