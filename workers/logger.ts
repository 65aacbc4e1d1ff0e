import pino, { type DestinationStream, type Logger } from 'pino';
import { logRedaction, redactFields, withoutUrlCredentials } from './log-redaction.js';

export type { Logger };

/**
 * The fleet's structured logger (pino, JSON lines on stdout). Log lines carry ids (province, connector, job,
 * dossier code) and reasons, never records: personal data and secrets are kept out by never passing them, and
 * the redaction configured in `log-redaction.ts` is a second fence — the values of the personal-data and secret
 * keys listed there become `[redacted]` at any depth of every line and every child's bindings (pino's `redact` at
 * the top, the formatters below), and the credentials of any URL in a field or the message are cut out.
 * `destination` is for tests; the fleet writes to stdout.
 */
export function createLogger(level: string, name = 'fleet', destination?: DestinationStream): Logger {
  const options: pino.LoggerOptions = {
    name,
    level,
    redact: logRedaction,
    formatters: {
      log: (fields) => redactFields(fields) as Record<string, unknown>,
      bindings: (bindings) => redactFields(bindings) as pino.Bindings,
    },
    hooks: {
      logMethod(args, method) {
        const scrubbed = args.map((arg: unknown) =>
          typeof arg === 'string' ? withoutUrlCredentials(arg) : arg,
        ) as Parameters<typeof method>;
        return method.apply(this, scrubbed);
      },
    },
  };
  const logger = destination ? pino(options, destination) : pino(options);
  // pino's formatters do not see a child's bindings (only the root's), so every child is made through this: a child
  // is made from its parent, and so inherits it, whatever the depth.
  type Child = (this: Logger, bindings: pino.Bindings, childOptions?: pino.ChildLoggerOptions) => Logger;
  // pino's own, called on the logger a child is made from (`this`), never bound to the root.
  const child = logger.child as unknown as Child;
  const redactedChild: Child = function (bindings, childOptions) {
    return child.call(this, redactFields(bindings) as pino.Bindings, childOptions);
  };
  Object.defineProperty(logger, 'child', { value: redactedChild, writable: true, configurable: true });
  return logger;
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
