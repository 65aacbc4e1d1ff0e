import { createServer, type Server } from 'node:http';

/** What the server answers to one request: a status and optional headers; it holds the answer `delayMs`. */
export interface Answer {
  status: number;
  headers?: Record<string, string>;
  delayMs?: number;
}

/**
 * A real HTTP server on loopback whose answers a test scripts; it records when each request started and how many
 * overlapped.
 */
export class FlakyServer {
  readonly starts: number[] = [];
  maxInFlight = 0;
  private inFlight = 0;
  private server: Server | null = null;

  constructor(private readonly answer: (request: number) => Answer) {}

  async start(): Promise<string> {
    this.server = createServer((_request, response) => {
      const n = this.starts.push(Date.now());
      this.inFlight += 1;
      this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
      const { status, headers = {}, delayMs = 0 } = this.answer(n);
      setTimeout(() => {
        this.inFlight -= 1;
        response.writeHead(status, { 'content-type': 'application/json', ...headers });
        response.end(JSON.stringify(status === 200 ? { items: [], hasMore: false } : { error: status }));
      }, delayMs);
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as { port: number }).port}`;
  }

  async stop(): Promise<void> {
    await new Promise((resolve) => this.server?.close(resolve));
  }
}
