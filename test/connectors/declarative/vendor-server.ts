import { createServer, type IncomingMessage, type Server } from 'node:http';

/** A record as the test vendor serves it. */
export interface VendorRecord {
  code: string;
  state: string;
  updatedAt: string;
  [field: string]: unknown;
}

/** How the test vendor pages and authenticates. */
export interface VendorOptions {
  records: VendorRecord[];
  pagination: 'pageNumber' | 'offset' | 'nextLinkBody' | 'nextLinkHeader' | 'cursorToken';
  auth?:
    | { type: 'basic'; username: string; password: string }
    | { type: 'bearer'; token: string }
    | { type: 'apiKeyHeader' | 'apiKeyQuery'; name: string; key: string }
    | { type: 'oauth2'; clientId: string; clientSecret: string; ttlSeconds: number; advertisedTtlSeconds?: number };
  /**
   * How the vendor reads its own time text (the records' `updatedAt` and the `since`/`until` parameters) to
   * filter on it. Default: the text itself, which orders ISO-like times; a `dd/MM/yyyy` time needs reading.
   */
  timeOf?: (text: string) => number;
  /** The since-filter leaves out the since time itself (`>`), as some vendors' do. Default: included (`>=`). */
  exclusiveSince?: boolean;
}

/** A real HTTP server on loopback that serves records the way a vendor's REST API does; it counts what it saw. */
export class VendorServer {
  readonly seen = { requests: 0, rejected: 0, tokensIssued: 0, windows: new Set<string>() };
  private server: Server | null = null;
  private url = '';
  private readonly tokens = new Map<string, number>();

  constructor(private readonly options: VendorOptions) {}

  async start(): Promise<string> {
    this.server = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk: Buffer) => (body += chunk.toString()));
      request.on('end', () => {
        const { status, payload, headers } = this.handle(request, body);
        response.writeHead(status, { 'content-type': 'application/json', ...headers });
        response.end(JSON.stringify(payload));
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as { port: number }).port}`;
    return this.url;
  }

  async stop(): Promise<void> {
    await new Promise((resolve) => this.server?.close(resolve));
  }

  private authorized(request: IncomingMessage, url: URL): boolean {
    const auth = this.options.auth;
    const header = request.headers.authorization ?? '';
    if (!auth) return true;
    if (auth.type === 'basic')
      return header === `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`;
    if (auth.type === 'bearer') return header === `Bearer ${auth.token}`;
    if (auth.type === 'apiKeyHeader') return request.headers[auth.name.toLowerCase()] === auth.key;
    if (auth.type === 'apiKeyQuery') return url.searchParams.get(auth.name) === auth.key;
    const expires = this.tokens.get(header.replace(/^Bearer /, ''));
    return expires !== undefined && expires > Date.now();
  }

  private handle(
    request: IncomingMessage,
    body: string,
  ): { status: number; payload: unknown; headers?: Record<string, string> } {
    const url = new URL(request.url ?? '/', this.url);
    const auth = this.options.auth;
    if (url.pathname === '/oauth/token' && auth?.type === 'oauth2') {
      const form = new URLSearchParams(body);
      if (form.get('client_id') !== auth.clientId || form.get('client_secret') !== auth.clientSecret)
        return { status: 401, payload: { error: 'invalid_client' } };
      const token = `t${++this.seen.tokensIssued}`;
      this.tokens.set(token, Date.now() + auth.ttlSeconds * 1000);
      // A token may die before the lifetime it was issued with (revoked, server restarted).
      return {
        status: 200,
        payload: {
          access_token: token,
          token_type: 'Bearer',
          expires_in: auth.advertisedTtlSeconds ?? auth.ttlSeconds,
        },
      };
    }
    this.seen.requests += 1;
    if (!this.authorized(request, url)) {
      this.seen.rejected += 1;
      return { status: 401, payload: { error: 'unauthorized' } };
    }
    const since = url.searchParams.get('since') ?? '';
    // A system that refuses long ranges takes an end too (exclusive).
    const until = url.searchParams.get('until') ?? '\uffff';
    const { timeOf, exclusiveSince } = this.options;
    const after = timeOf
      ? (record: VendorRecord) =>
          since === '' ||
          (exclusiveSince ? timeOf(record.updatedAt) > timeOf(since) : timeOf(record.updatedAt) >= timeOf(since))
      : (record: VendorRecord) => (exclusiveSince ? record.updatedAt > since : record.updatedAt >= since);
    const before = timeOf
      ? (record: VendorRecord) => !url.searchParams.has('until') || timeOf(record.updatedAt) < timeOf(until)
      : (record: VendorRecord) => record.updatedAt < until;
    const matching = this.options.records.filter((record) => after(record) && before(record));
    this.seen.windows.add(`${since}..${url.searchParams.get('until') ?? ''}`);
    const size = Number(url.searchParams.get('size') ?? 10);
    let start = 0;
    switch (this.options.pagination) {
      case 'pageNumber':
        start = (Number(url.searchParams.get('page') ?? 1) - 1) * size;
        break;
      case 'offset':
        start = Number(url.searchParams.get('offset') ?? 0);
        break;
      default:
        start = Number(url.searchParams.get('after') ?? url.searchParams.get('token') ?? 0);
    }
    const items = matching.slice(start, start + size);
    const more = start + size < matching.length;
    const nextUrl = `/records?since=${encodeURIComponent(since)}&size=${size}&after=${start + size}`;
    switch (this.options.pagination) {
      case 'nextLinkBody':
        return { status: 200, payload: { data: { items }, links: { next: more ? nextUrl : null } } };
      case 'nextLinkHeader':
        return {
          status: 200,
          payload: { data: { items } },
          headers: more ? { link: `<${this.url}${nextUrl}>; rel="next"` } : {},
        };
      case 'cursorToken':
        return { status: 200, payload: { data: { items }, next: more ? String(start + size) : null } };
      default:
        return { status: 200, payload: { data: { items } } };
    }
  }
}

/** `count` records with ascending update times (several share one), in the vendor's format. */
export function vendorRecords(count: number): VendorRecord[] {
  return Array.from({ length: count }, (_, i) => ({
    code: `79.2026.${String(i).padStart(5, '0')}`,
    state: ['processing', 'waiting', 'done'][i % 3]!,
    // Three records share each second: ties cross page boundaries.
    updatedAt: `2026-11-20T08:${String(Math.floor(i / 3 / 60) % 60).padStart(2, '0')}:${String(Math.floor(i / 3) % 60).padStart(2, '0')}`,
    dueAt: '20/12/2026 17:00:00',
    applicant: { fullName: 'Trần Thị Bình', identityNumber: '079123456789' },
  }));
}
