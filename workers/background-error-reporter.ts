import type { Counter } from 'prom-client';
import type { Logger } from './logger.js';

/** The parts of a fleet process whose failures no request awaits: the `component` label. */
export type ErrorComponent =
  | 'redis'
  | 'postgres'
  | 'ingest_queue'
  | 'queue_events'
  | 'poll_queue'
  | 'poller'
  | 'writer'
  | 'scheduler'
  | 'webhooks'
  | 'readiness'
  | 'api_rate_limit'
  | 'backfill_runner';

/** What failed: the `kind` label. */
export type ErrorKind =
  | 'connection'
  | 'queue'
  | 'worker'
  | 'lock_renewal'
  | 'lock_lost'
  | 'lock_release'
  | 'rate_limit_release'
  | 'record_connector_error'
  | 'record_breaker_state'
  | 'record_run_progress'
  | 'record_pushes'
  | 'refresh'
  | 'stats_refresh'
  | 'ledger_commit'
  | 'ledger_release'
  | 'postgres_unreachable'
  | 'redis_unreachable'
  | 'migrations_pending'
  | 'lookup'
  | 'run';

/** Where a failure comes from, and what the log line says of it. */
export interface ErrorSource {
  component: ErrorComponent;
  kind: ErrorKind;
  /** The log line: what failed and what it means for the fleet. */
  message: string;
  /** The log level. Default `error`. */
  level?: 'error' | 'warn';
}

/** Where a failure that nobody awaits is told. */
export interface BackgroundErrors {
  /**
   * Logs (at most one line per component and kind per interval) and counts a failure. `context` names where
   * (province, connector, queue, connection): never a secret or personal data.
   */
  report(source: ErrorSource, error: unknown, context?: Record<string, string | number>): void;
}

/** Options of the reporter. */
export interface BackgroundErrorReporterOptions {
  /**
   * Counts every failure by component and kind (`dossier_sync_background_errors_total`). Default: none, logged only.
   */
  counter?: Counter<'component' | 'kind'>;
  /**
   * At most one line per component and kind this often (ms); the repeats meanwhile are told, counted, in the next.
   * Default 30000.
   */
  intervalMs?: number;
}

interface Pending {
  source: ErrorSource;
  error: unknown;
  context: Record<string, string | number>;
}

interface SourceState {
  loggedAt: number;
  /** Failures since the last line, not told yet; the last of them is `last`. */
  repeats: number;
  last: Pending | null;
  timer: NodeJS.Timeout | null;
}

/** A short text for an error, with any credentials of a URL in it (`redis://user:password@host`) cut out. */
export function describeError(error: unknown): string {
  if (error instanceof AggregateError && error.errors.length > 0 && error.message === '')
    return describeError(error.errors[0]);
  const code = (error as { code?: unknown } | null)?.code;
  const text =
    error instanceof Error
      ? `${error.message}${typeof code === 'string' && !error.message.includes(code) ? ` (${code})` : ''}`
      : String(error);
  return text.replace(/\/\/[^/@\s]*@/g, '//').slice(0, 500);
}

/**
 * Tells of the failures no caller awaits — a Redis connection's errors, a lock that could not be renewed, a
 * connector's error that could not be recorded — in the log and in a metric, without letting an outage flood
 * the log: each source (component and kind) gets one line at most per interval, and the repeats meanwhile are
 * told in one line when the interval ends (or the process stops), its `failures` field saying how many it stands
 * for. One failure heard by
 * several listeners (a Redis connection's error, forwarded by every BullMQ queue sharing it) counts once.
 */
export class BackgroundErrorReporter implements BackgroundErrors {
  private readonly sources = new Map<string, SourceState>();
  private readonly seen = new WeakSet<object>();
  private readonly intervalMs: number;

  constructor(
    private readonly logger: Logger,
    private readonly options: BackgroundErrorReporterOptions = {},
  ) {
    this.intervalMs = options.intervalMs ?? 30_000;
  }

  report(source: ErrorSource, error: unknown, context: Record<string, string | number> = {}): void {
    if (typeof error === 'object' && error !== null) {
      if (this.seen.has(error)) return;
      this.seen.add(error);
    }
    this.options.counter?.inc({ component: source.component, kind: source.kind });
    const key = `${source.component}/${source.kind}`;
    const now = Date.now();
    const state = this.sources.get(key);
    if (!state || now - state.loggedAt >= this.intervalMs) {
      if (state?.timer) clearTimeout(state.timer);
      // Repeats not told yet (their timer is late) are told with this one.
      const failures = (state?.repeats ?? 0) + 1;
      this.sources.set(key, { loggedAt: now, repeats: 0, last: null, timer: null });
      this.write({ source, error, context }, failures);
      return;
    }
    state.repeats += 1;
    state.last = { source, error, context };
    if (!state.timer) {
      state.timer = setTimeout(() => this.flush(key), Math.max(0, state.loggedAt + this.intervalMs - now));
      state.timer.unref();
    }
  }

  /** Writes the repeats not told yet, at once (the process is stopping). */
  close(): void {
    for (const key of this.sources.keys()) this.flush(key);
  }

  private flush(key: string): void {
    const state = this.sources.get(key);
    if (!state) return;
    if (state.timer) clearTimeout(state.timer);
    state.timer = null;
    if (state.repeats === 0 || !state.last) return;
    const { last, repeats } = state;
    this.sources.set(key, { loggedAt: Date.now(), repeats: 0, last: null, timer: null });
    this.write(last, repeats);
  }

  /** One line for `failures` failures of a source, the last of which is shown. */
  private write({ source, error, context }: Pending, failures: number): void {
    const fields = { component: source.component, kind: source.kind, ...context, err: describeError(error), failures };
    const message =
      failures > 1
        ? `${source.message} (${failures} times since the last line; the last error is shown)`
        : source.message;
    this.logger[source.level ?? 'error'](fields, message);
  }
}
