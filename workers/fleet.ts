import { Queue } from 'bullmq';
import type { Kysely } from 'kysely';
import type { Config } from '../config/env.js';
import { currentProvinces } from '../config/provinces.js';
import { recordBreakerState } from '../db/queries/connectors.js';
import { countDeadLettersByProvince } from '../db/queries/dead-letters.js';
import { reconcileFigures } from '../db/queries/reconcile-runs.js';
import { countFailedBatches } from '../db/queries/failed-batches.js';
import { assertDatabaseReachable, createDatabase } from '../db/database.js';
import type { Database } from '../db/schema.js';
import { BackfillRunner } from './backfill/backfill-runner.js';
import { BackgroundErrorReporter, type ErrorSource } from './background-error-reporter.js';
import { dependencyChecks } from './http/dependency-checks.js';
import { startHttpServer } from './http/http-server.js';
import { IngestQueue } from './queue/ingest-queue.js';
import { queueNames } from './queue/queues.js';
import type { Logger } from './logger.js';
import { FleetMetrics } from './metrics.js';
import { QueueGaugeLeader } from './queue-gauge-leader.js';
import { Poller } from './poller/poller.js';
import {
  assertRedisReachable,
  createFailFastRedis,
  createRedis,
  warnIfEvicting,
  type RedisConnection,
} from './redis.js';
import { StatsRefresher } from './read-model/stats-refresher.js';
import { ReconcilerRole } from './reconciler/reconciler-role.js';
import { ConnectorScheduler } from './scheduler/connector-scheduler.js';
import { SecretBox } from './webhooks/secret-box.js';
import { createWebhooks } from './webhooks/webhooks.js';
import { FailedBatchSweep } from './writer/failed-batch-sweep.js';
import { Writer } from './writer/writer.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { StartAbortedError } from './start-aborted-error.js';

/** The roles a fleet process can play; `all` is every one of them in one process. */
export const roles = ['gateway', 'poller', 'writer', 'scheduler', 'reconciler'] as const;
export type Role = (typeof roles)[number];

/** A running fleet process. */
export interface Fleet {
  /** Base URL of its HTTP server. */
  url: string;
  metrics: FleetMetrics;
  db: Kysely<Database>;
  /** Stops taking work, finishes the current work, closes every connection. */
  stop(): Promise<void>;
  /** The part of the fleet `stop` is waiting for, while it stops: what a shutdown past its deadline names. */
  stopping(): string | undefined;
}

const redisConnectionError: ErrorSource = {
  component: 'redis',
  kind: 'connection',
  message: 'Redis connection error; its commands wait for the reconnection',
};
const postgresConnectionError: ErrorSource = {
  component: 'postgres',
  kind: 'connection',
  message:
    'a Postgres connection failed; the pool opens another, and the query it carried fails and is retried by its caller',
};
const breakerNotRecorded: ErrorSource = {
  component: 'poller',
  kind: 'record_breaker_state',
  level: 'warn',
  message: 'could not record the breaker state (fleet connector list may show an older one)',
};

/** Runs a reachability check until it passes or `waitMs` is spent; the last failure is the one thrown. */
async function waitForDependency(
  check: () => Promise<void>,
  waitMs: number,
  logger: Logger,
  signal?: AbortSignal,
): Promise<void> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() >= deadline) throw error;
      logger.warn(
        { err: error instanceof Error ? error.message : String(error) },
        'waiting for a dependency to answer (STARTUP_WAIT_MS)',
      );
      // A worker told to stop while it waits (an orchestrator's SIGTERM during a Redis restart) stops waiting: it
      // has started nothing, so there is nothing to finish, and it must not hold up the stop for STARTUP_WAIT_MS.
      await sleep(1000, undefined, { signal }).catch(() => {});
      if (signal?.aborted) throw new StartAbortedError('told to stop while waiting for a dependency to answer');
    }
  }
}

/**
 * Starts the given roles in this process. Every process serves `/metrics` and health on its HTTP port, so each
 * role scraped alone in production is observable too.
 */
export async function startFleet(
  config: Config,
  wanted: readonly Role[],
  logger: Logger,
  /** Aborted when the process is told to stop while it starts: a wait for Redis or Postgres gives up at once. */
  signal?: AbortSignal,
): Promise<Fleet> {
  const metrics = new FleetMetrics();
  // Every failure that no request or job awaits goes here: logged at most once per component and kind per 30 s, and
  // counted.
  const errors = new BackgroundErrorReporter(logger, { counter: metrics.backgroundErrors });
  const db = createDatabase(config.DATABASE_URL, {
    maxConnections: config.WRITER_CONCURRENCY + 3,
    onConnectionError: (error) => errors.report(postgresConnectionError, error),
  });
  try {
    await waitForDependency(() => assertRedisReachable(config.REDIS_URL), config.STARTUP_WAIT_MS, logger, signal);
    await waitForDependency(
      () => assertDatabaseReachable(db, config.DATABASE_URL),
      config.STARTUP_WAIT_MS,
      logger,
      signal,
    );
  } catch (error) {
    await db.destroy();
    throw error;
  }

  const connections: RedisConnection[] = [];
  /** A Redis connection of this process; `name` says what it is for in the log. */
  const openConnection = (name: string, create: (url: string) => RedisConnection = createRedis) => {
    const connection = create(config.REDIS_URL);
    // Registered before any BullMQ queue shares the connection, so its failures count here, once.
    connection.on('error', (error) => errors.report(redisConnectionError, error, { connection: name }));
    connections.push(connection);
    return connection;
  };
  const control = openConnection('control');
  await warnIfEvicting(control, logger);

  const has = (role: Role) => wanted.includes(role);
  const ingest = new IngestQueue(
    openConnection('ingest'),
    config.QUEUE_PREFIX,
    () => openConnection('ingest-events'),
    errors,
    undefined,
    config.INGEST_KEPT_COMPLETED_BATCHES,
  );
  for (const { code } of currentProvinces) metrics.watchQueue(ingest.queueOf(code));
  // Every process sees the same queues: one of them at a time exports their gauges, so sum() counts each once.
  const queueGaugeLeader = new QueueGaugeLeader(control, { prefix: config.QUEUE_PREFIX });
  metrics.queueGaugeLease = () => queueGaugeLeader.holds();
  if (has('gateway')) metrics.watchDeadLetters(() => countDeadLettersByProvince(db, { state: 'new' }));
  if (has('gateway')) metrics.watchReconcileRuns(() => reconcileFigures(db));
  if (has('gateway')) metrics.watchFailedBatches(() => countFailedBatches(db, { state: 'failed' }));

  const scheduler = has('scheduler')
    ? new ConnectorScheduler(db, openConnection('scheduler'), logger, { prefix: config.QUEUE_PREFIX, errors })
    : null;
  if (scheduler) metrics.watchQueue(scheduler.queue);
  // The statistics of the read API, refreshed on a schedule by the role that keeps the schedules.
  const statsRefresher = has('scheduler')
    ? new StatsRefresher(db, logger, { intervalMs: config.STATS_REFRESH_INTERVAL_MS, errors })
    : null;
  const sweep = has('writer')
    ? new FailedBatchSweep(
        db,
        currentProvinces.map(({ code }) => ({ province: code, queue: ingest.queueOf(code) })),
        metrics.batchesFailed,
        logger,
      )
    : null;
  const writer = has('writer')
    ? new Writer(db, openConnection('writer'), metrics, logger, {
        prefix: config.QUEUE_PREFIX,
        concurrency: config.WRITER_CONCURRENCY,
        maxGroupBatches: config.WRITER_GROUP_BATCHES,
        maxGroupRecords: config.WRITER_GROUP_RECORDS,
        provinceConcurrency: config.WRITER_PROVINCE_CONCURRENCY,
        errors,
        onBatchFailed: () => sweep?.soon(),
      })
    : null;
  const poller = has('poller')
    ? new Poller(db, openConnection('poller'), ingest, metrics, logger, {
        prefix: config.QUEUE_PREFIX,
        concurrency: config.POLLER_CONCURRENCY,
        maxPagesPerRun: config.POLLER_MAX_PAGES_PER_RUN,
        pagesInFlight: config.POLLER_PAGES_IN_FLIGHT,
        errors,
      })
    : null;
  if (poller) {
    const levels = { closed: 0, half_open: 1, open: 2 } as const;
    poller.onBreakerChange = (connectorId, province, state) => {
      metrics.breakerState.set({ province, connector: connectorId }, levels[state]);
      recordBreakerState(db, connectorId, state).catch((error: unknown) =>
        errors.report(breakerNotRecorded, error, { province, connector: connectorId }),
      );
    };
  }

  // The reconciler role carries on the backfill runs no process holds (started over HTTP, or a stopped `fleet
  // backfill`), on a pool of its own: each run holds a connection for its lock.
  const backfillDb = has('reconciler')
    ? createDatabase(config.DATABASE_URL, { maxConnections: 6, applicationName: 'dossier-sync-backfill' })
    : null;
  const backfillRunner = backfillDb
    ? new BackfillRunner(backfillDb, openConnection('backfill'), ingest, logger, {
        prefix: config.QUEUE_PREFIX,
        maxRuns: 4,
        errors,
        metrics,
      })
    : null;

  // The queue UI's view of the poll queue (the scheduler role's own, when this process has it).
  const boardPollQueue = has('gateway')
    ? (scheduler?.queue ??
      new Queue(queueNames.poll, { connection: openConnection('queue-board'), prefix: config.QUEUE_PREFIX }))
    : null;

  const webhooks = has('gateway') ? createWebhooks(config, db, ingest, metrics, logger, errors) : null;

  const { server, url } = await startHttpServer({
    host: config.HTTP_HOST,
    port: config.HTTP_PORT,
    metrics,
    readiness: dependencyChecks(db, control),
    errors,
    logger,
    ...(has('gateway')
      ? {
          admin: { db, ingest, logger, secretBox: SecretBox.fromConfig(config) },
          queueBoard: { db, queues: [boardPollQueue!, ...currentProvinces.map(({ code }) => ingest.queueOf(code))] },
          read: { db, logger, feedCursorMaxAgeDays: config.FEED_CURSOR_MAX_AGE_DAYS },
          // Counts shared by every gateway process; a connection of its own that fails fast, so a Redis outage falls
          // back to counting in this process instead of holding the requests.
          rateLimit: {
            redis: openConnection('api-rate-limit', createFailFastRedis),
            prefix: config.QUEUE_PREFIX,
            max: config.API_RATE_LIMIT_PER_SECOND,
          },
        }
      : {}),
    ...(webhooks ? { webhooks: { intake: webhooks.intake, bodyLimit: webhooks.bodyLimit } } : {}),
  });

  // Runs the reconciles asked for over HTTP and the scheduled ones (README, Reconciliation).
  const reconciler = has('reconciler')
    ? new ReconcilerRole({ config, db, redis: openConnection('reconciler'), logger, errors, metrics })
    : null;
  writer?.start();
  sweep?.start();
  poller?.start();
  await scheduler?.start();
  statsRefresher?.start();
  backfillRunner?.start();
  reconciler?.start();
  logger.info({ roles: wanted, url }, 'fleet started');

  let stopped: Promise<void> | null = null;
  let part: string | undefined;
  /** Waits for one part to stop, named while it does (debug lines tell each part stopped). */
  const stopPart = async (name: string, close: (() => Promise<unknown>) | null | undefined) => {
    if (!close) return;
    part = name;
    await close();
    logger.debug({ part: name }, 'stopped');
  };
  const stop = () =>
    (stopped ??= (async () => {
      // Order matters: deliveries in hand are acknowledged before the queue closes; pollers wait for their last
      // batch to commit, so the writer stops after them.
      await stopPart('webhooks', webhooks && (() => webhooks.close()));
      await stopPart('scheduler', scheduler && (() => scheduler.close()));
      await stopPart('stats refresher', statsRefresher && (() => statsRefresher.close()));
      await stopPart('reconciler', reconciler && (() => reconciler.close()));
      await stopPart('poller', poller && (() => poller.close()));
      // Its runs stop after the page in hand and stay running (resumable); their last batches commit first.
      await stopPart('backfill runner', backfillRunner && (() => backfillRunner.close()));
      await stopPart('backfill database pool', backfillDb && (() => backfillDb.destroy()));
      await stopPart('writer', writer && (() => writer.close()));
      await stopPart('failed-batch sweep', sweep && (() => sweep.close()));
      await stopPart('ingest queues', () => ingest.close());
      await stopPart('http server', () => server.close());
      await stopPart('queue gauge lease', () => queueGaugeLeader.release().catch(() => {}));
      if (boardPollQueue !== scheduler?.queue)
        await stopPart('queue board', boardPollQueue && (() => boardPollQueue.close()));
      for (const connection of connections) connection.disconnect();
      await stopPart('database pool', () => db.destroy());
      part = undefined;
      errors.close();
      logger.info('fleet stopped');
    })());

  return { url, metrics, db, stop, stopping: () => part };
}
