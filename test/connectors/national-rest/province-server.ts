import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request the province server received. */
export interface ReceivedRequest {
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
}

/** What the province server answers next: a status and a JSON body. */
export interface Answer {
  status: number;
  body: unknown;
}

/** A tiny real HTTP server on 127.0.0.1 standing in for a province system; answers are queued by the test. */
export interface ProvinceServer {
  url: string;
  requests: ReceivedRequest[];
  answer(next: Answer): void;
  close(): Promise<void>;
}

export async function startProvinceServer(): Promise<ProvinceServer> {
  const requests: ReceivedRequest[] = [];
  const answers: Answer[] = [];
  const server: Server = createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://127.0.0.1');
    requests.push({ path: url.pathname, query: url.searchParams, headers: request.headers });
    const next = answers.shift() ?? { status: 200, body: { items: [], hasMore: false } };
    response.writeHead(next.status, { 'content-type': 'application/json' });
    response.end(JSON.stringify(next.body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    answer: (next) => answers.push(next),
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}
