import { createServer, type Server } from 'node:http';

/** A record as the long source serves it. */
export interface LongSourceRecord {
  code: string;
  state: string;
  /** Vietnam local time, `yyyy-MM-ddTHH:mm:ss`. */
  updatedAt: string;
}

/** How the long source pages, and how it misbehaves. */
export interface LongSourceOptions {
  records: LongSourceRecord[];
  pagination: 'pageNumber' | 'offset' | 'cursorToken' | 'nextLink';
  /**
   * `ignoresPage`: every request gets the first page, whatever its page number (a vendor API that drops an
   * unknown parameter); `tokenCycle`: the token of the third page leads back to the second.
   */
  fault?: 'ignoresPage' | 'tokenCycle';
  /** Each answer is held this long (so a test can stop a process in the middle of a walk). Default 0. */
  delayMs?: number;
}

/**
 * A real HTTP server on loopback serving a long list of records in one of the pagination styles a definition
 * describes (`GET /dossiers?since=&page=&offset=&token=&size=`, next links as `/dossiers?after=`). It records the
 * position (records skipped) of every request it answered, in order, so a test can tell where each run began.
 */
export class LongSourceServer {
  /** The position of each request answered, in records skipped from the start of the filtered list. */
  readonly positions: number[] = [];
  private server: Server | null = null;

  constructor(private readonly options: LongSourceOptions) {}

  async start(): Promise<string> {
    this.server = createServer((request, response) => {
      const answer = this.answer(new URL(request.url ?? '/', 'http://loopback'));
      setTimeout(() => {
        response.writeHead(200, { 'content-type': 'application/json' });
        response.end(JSON.stringify(answer));
      }, this.options.delayMs ?? 0);
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as { port: number }).port}`;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise((resolve) => this.server?.close(resolve));
  }

  /** How many requests asked for a position: 1 for each in a walk that never went back. */
  requestsAt(position: number): number {
    return this.positions.filter((seen) => seen === position).length;
  }

  private answer(url: URL): unknown {
    const since = url.searchParams.get('since') ?? '';
    const size = Number(url.searchParams.get('size') ?? 10);
    const matching = this.options.records.filter((record) => record.updatedAt >= since);
    let start: number;
    if (url.searchParams.has('after')) start = Number(url.searchParams.get('after'));
    else if (this.options.pagination === 'pageNumber') start = (Number(url.searchParams.get('page') ?? 1) - 1) * size;
    else if (this.options.pagination === 'offset') start = Number(url.searchParams.get('offset') ?? 0);
    else start = Number((url.searchParams.get('token') ?? 'p0').slice(1));
    if (this.options.fault === 'ignoresPage') start = 0;
    this.positions.push(start);
    const items = matching.slice(start, start + size);
    let next = start + size < matching.length ? start + size : null;
    if (this.options.fault === 'tokenCycle' && start === 2 * size) next = size;
    if (this.options.pagination === 'cursorToken') return { data: { items }, next: next === null ? null : `p${next}` };
    if (this.options.pagination === 'nextLink')
      return {
        data: { items },
        links: {
          next: next === null ? null : `/dossiers?since=${encodeURIComponent(since)}&size=${size}&after=${next}`,
        },
      };
    return { data: { items } };
  }
}

/** `count` records with ascending update times, two to a second, codes `<prefix>.00000`…; states cycle. */
export function longSourceRecords(count: number, prefix: string): LongSourceRecord[] {
  return Array.from({ length: count }, (_, i) => {
    const second = Math.floor(i / 2);
    const time = new Date(Date.UTC(2026, 10, 20, 8, 0, 0) + second * 1000).toISOString().slice(0, 19);
    return {
      code: `${prefix}.${String(i).padStart(5, '0')}`,
      state: ['processing', 'waiting', 'done'][i % 3]!,
      updatedAt: time,
    };
  });
}
