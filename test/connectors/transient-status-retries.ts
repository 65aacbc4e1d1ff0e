import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'vitest';
import type { ReadableConnector } from '../../connectors/sdk/connector.js';
import { sourcePolicyOf } from '../../connectors/sdk/source-policy.js';
import { SourceGuard } from '../../workers/poller/source-guard.js';

/** What the loopback server answers: a status, a body and its content type. */
export interface Answer {
  status: number;
  body: string;
  contentType: string;
}

/** A real HTTP server on 127.0.0.1: answers each request with the next scripted answer, or `ok` when none is left. */
async function startScriptedServer(ok: Answer) {
  const scripted: Answer[] = [];
  let requests = 0;
  const server = createServer((request, response) => {
    requests += 1;
    request.resume();
    const answer = scripted.shift() ?? ok;
    response.writeHead(answer.status, { 'content-type': answer.contentType });
    response.end(answer.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests: () => requests,
    answerNext: (answer: Answer) => scripted.push(answer),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * Builds a connector of one kind against `baseUrl`, its `retry` section listing these statuses (none: the default
 * list).
 */
export type BuildConnector = (
  baseUrl: string,
  transientStatusCodes?: number[],
) => { connector: ReadableConnector; config: unknown };

/**
 * Reads one page through the fleet's source guard, as the poller does with the connector's own policy: a status
 * the connector's `retry.transientStatusCodes` lists (409) is retried, a 4xx it does not list (400) is not, and
 * with the default list 409 is not retried either.
 */
export async function expectListedStatusesRetried(build: BuildConnector, ok: Answer): Promise<void> {
  const server = await startScriptedServer(ok);
  const failure = (status: number): Answer => ({ status, body: 'no', contentType: 'text/plain' });
  const readThroughGuard = (codes?: number[]) => {
    const { connector, config } = build(server.url, codes);
    const policy = sourcePolicyOf(config);
    const guard = new SourceGuard('transient-statuses', policy.breaker, policy.retry, () => {});
    return guard.read(connector, connector.startFrom(null)).finally(() => guard.shutdown());
  };
  try {
    server.answerNext(failure(409));
    await expect(readThroughGuard([409, 503])).resolves.toMatchObject({ items: expect.any(Array) });
    expect(server.requests()).toBe(2);

    server.answerNext(failure(400));
    await expect(readThroughGuard([409, 503])).rejects.toMatchObject({ status: 400, transient: false });
    expect(server.requests()).toBe(3);

    server.answerNext(failure(409));
    await expect(readThroughGuard()).rejects.toMatchObject({ status: 409, transient: false });
    expect(server.requests()).toBe(4);
  } finally {
    await server.close();
  }
}
