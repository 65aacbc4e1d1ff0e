import type { Logger } from '../../workers/logger.js';
import { StartAbortedError } from '../../workers/start-aborted-error.js';

/** Something that can be stopped: a fleet, a simulator. */
export interface Stoppable {
  stop(): Promise<void>;
  /** The part still stopping, if it can tell: named when the deadline passes. */
  stopping?(): string | undefined;
}

/**
 * Waits for SIGTERM or SIGINT, then stops what `started` resolves to, with a deadline. The handlers are in place
 * before start-up finishes, so a signal during start-up still gets a clean stop. Resolves with the exit code: 0
 * after a clean stop, 1 when the deadline passed first or stopping failed. A second signal exits at once.
 *
 * `abortStart`, when given, is aborted by the signal: a start-up that can give up (one waiting for a dependency)
 * then rejects `started` with StartAbortedError, and that is a clean stop too (0): nothing had started. Any other
 * failure of the start-up is still one (1).
 */
export function untilSignal(
  started: Promise<Stoppable>,
  timeoutMs: number,
  logger: Logger,
  abortStart?: AbortController,
): Promise<number> {
  started.catch(() => {}); // the caller reports a failed start-up
  return new Promise((resolve) => {
    let stopping = false;
    let target: Stoppable | undefined;
    const onSignal = (signal: NodeJS.Signals) => {
      if (stopping) {
        logger.warn({ signal }, 'second signal: exiting now');
        process.exit(130);
      }
      stopping = true;
      logger.info({ signal, timeoutMs }, 'stopping: no new work, finishing the current work');
      const deadline = setTimeout(() => {
        logger.error(
          { timeoutMs, stillStopping: target?.stopping?.() },
          'shutdown took longer than SHUTDOWN_TIMEOUT_MS; exiting with work unfinished (it will be retried)',
        );
        resolve(1);
      }, timeoutMs);
      deadline.unref();
      abortStart?.abort();
      started
        .then(
          (started) => (target = started).stop(),
          (error: unknown) => {
            if (!(error instanceof StartAbortedError)) throw error;
            logger.info(
              { err: error instanceof Error ? error.message : String(error) },
              'stopped before start-up had finished',
            );
          },
        )
        .then(
          () => {
            clearTimeout(deadline);
            resolve(0);
          },
          (error: unknown) => {
            clearTimeout(deadline);
            logger.error({ err: error instanceof Error ? error.message : String(error) }, 'error while stopping');
            resolve(1);
          },
        );
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}
