/** A BullMQ queue or worker: readies its connection (client name, version check) in the background. */
interface Readying {
  waitUntilReady(): Promise<unknown>;
}

/**
 * Waits, at most `limitMs`, for every queue or worker to have finished readying its connection. Closing a
 * connection while those first commands are in flight makes them reject with no one to hear them (an unhandled
 * "Connection is closed" per queue, found by a fresh-clone CI run of a fleet stopped right after its start); a
 * connection that cannot get ready by then is closed anyway.
 */
export async function settleReadiness(items: readonly Readying[], limitMs = 5000): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, limitMs);
    timer.unref();
  });
  const ready = Promise.all(items.map((item) => item.waitUntilReady().catch(() => undefined)));
  await Promise.race([ready, limit]);
  clearTimeout(timer);
}
