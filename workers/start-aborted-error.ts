/**
 * A start-up given up because the process was told to stop while it waited (`startFleet`'s `signal`): a clean stop,
 * since nothing had started. Its own small module, so the command line can tell it apart without loading the fleet.
 */
export class StartAbortedError extends Error {
  override readonly name = 'StartAbortedError';
}
