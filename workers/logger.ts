import pino, { type DestinationStream, type Logger } from 'pino';
import { logRedaction, scrubUrlCredentials, withoutUrlCredentials } from './log-redaction.js';

export type { Logger };

/**
 * The fleet's structured logger (pino, JSON lines on stdout). Log lines carry ids (province, connector, job,
 * dossier code) and reasons, never records: personal data and secrets are kept out by never passing them, and
 * the redaction configured in `log-redaction.ts` is a second fence — the personal-data and secret keys listed
 * there become `[redacted]` in every line and every child's bindings, and the credentials of any URL in a field or
 * message are cut out. `destination` is for tests; the fleet writes to stdout.
 */
export function createLogger(level: string, name = 'fleet', destination?: DestinationStream): Logger {
  const options: pino.LoggerOptions = {
    name,
    level,
    redact: logRedaction,
    formatters: { log: (fields) => scrubUrlCredentials(fields) as Record<string, unknown> },
    hooks: {
      logMethod(args, method) {
        const scrubbed = args.map((arg: unknown) =>
          typeof arg === 'string' ? withoutUrlCredentials(arg) : arg,
        ) as Parameters<typeof method>;
        return method.apply(this, scrubbed);
      },
    },
  };
  return destination ? pino(options, destination) : pino(options);
}

/** What a job's work is: the `stage` of its log lines, as the metrics name it. */
export type JobStage = 'poll' | 'write' | 'webhook' | 'reconcile' | 'backfill';

/**
 * The logger of one job's work — a poll run, an ingest batch, a webhook delivery, a reconcile or backfill run —
 * bound where the job starts, so that every line of it carries its stage, province, connector and job id.
 * Unknown ids (a batch this release cannot read, a delivery for an unknown connector) are bound as `(unknown)`.
 */
export function jobLogger(
  logger: Logger,
  stage: JobStage,
  ids: { province?: string | undefined; connector?: string | undefined; job?: string | number | undefined },
): Logger {
  return logger.child({
    stage,
    province: ids.province ?? '(unknown)',
    connector: ids.connector ?? '(unknown)',
    job: ids.job === undefined ? '(unknown)' : String(ids.job),
  });
}
