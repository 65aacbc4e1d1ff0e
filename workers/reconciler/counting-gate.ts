import type { RequestGate } from '../../connectors/sdk/request-gate.js';

/** Counts the requests a connector makes to its source through the gate it paces them with. */
export class CountingGate implements RequestGate {
  /** Requests made so far. */
  requests = 0;

  constructor(private readonly inner: RequestGate) {}

  run<T>(request: () => Promise<T>): Promise<T> {
    return this.inner.run(() => {
      this.requests += 1;
      return request();
    });
  }
}
