import axios, { type AxiosInstance } from 'axios';
import { XMLBuilder, XMLParser } from 'fast-xml-parser';
import { z } from 'zod';
import type {
  Connector,
  FieldSource,
  ConnectorPlugin,
  ConnectorSettings,
  Cursor,
  ReadState,
  SourcePage,
} from '../sdk/connector.js';
import { formatSourceDate, parseSourceDate } from '../sdk/dates.js';
import type { DossierRecordInput } from '../sdk/dossier-record.js';
import { vietnameseStatusLabels, type DossierStatus } from '../sdk/dossier-status.js';
import { MappingError } from '../sdk/mapping-error.js';
import { quoteSourceValue } from '../sdk/personal-data.js';
import { lazySecret, secretReference } from '../sdk/secrets.js';
import type { RequestGate } from '../sdk/request-gate.js';
import {
  breakerSchema,
  defaultBreaker,
  defaultRateLimit,
  defaultRetry,
  rateLimitSchema,
  retrySchema,
} from '../sdk/source-policy.js';
import { RequestPacer } from '../sdk/request-pacer.js';
import { compareSinceCursors, sinceOf } from '../sdk/since-cursor.js';
import { compareWalks, nextWalk, walkFields, walkOf } from '../sdk/walk-cursor.js';
import { SourceError, toSourceError } from '../sdk/source-error.js';

/**
 * Settings of a one-stop-shop system reached through the provincial integration platform (LGSP) as a SOAP 1.1
 * service: the operation `LayDanhSachHoSo` pages dossiers changed since a time, in XML with Vietnamese status
 * labels. The declarative form cannot describe it (a SOAP envelope in, XML out), so it is a code plugin.
 */
export const lgspSoapConfig = z
  .object({
    /** Base URL of the LGSP gateway, e.g. https://lgsp.hanoi.gov.vn. */
    baseUrl: z.url({ error: 'expected an http(s) URL' }),
    /** Path of the SOAP endpoint. Default /lgsp/motcua/soap. */
    path: z.string().startsWith('/', { error: 'expected a path starting with /' }).default('/lgsp/motcua/soap'),
    /** SOAPAction header of the operation. Default http://motcua.gov.vn/LayDanhSachHoSo. */
    soapAction: z.string().default('http://motcua.gov.vn/LayDanhSachHoSo'),
    /** HTTP Basic user of the gateway account. */
    username: z.string({ error: 'expected the gateway user name' }).min(1),
    /** Its password, as a reference. */
    password: secretReference,
    /** Dossiers per page (SoLuong), 1 to 500. Default 200. */
    pageSize: z
      .number({ error: 'expected a whole number from 1 to 500' })
      .int()
      .min(1)
      .max(500, { error: 'expected a whole number from 1 to 500' })
      .default(200),
    /** Seconds re-read at the start of each run. Default 120. */
    lookbackSeconds: z.number({ error: 'expected a whole number of seconds' }).int().min(0).max(604_800).default(120),
    /** Request timeout. Default 30000 ms. */
    timeoutMs: z.number().int().min(100).max(300_000).default(30_000),
    /** Requests per second and in flight, across every poller. Default 5 per second, 1 at a time. */
    rateLimit: rateLimitSchema.default(defaultRateLimit),
    /** When its circuit breaker opens. */
    breaker: breakerSchema.default(defaultBreaker),
    /** Which failures are retried, and the retry budget. */
    retry: retrySchema.default(defaultRetry),
  })
  .strict();
export type LgspSoapConfig = z.infer<typeof lgspSoapConfig>;

/**
 * A walk's place: its since-filter (ISO instant), the offset (ViTri), the newest NgayCapNhat seen, and which walk
 * it is (connectors/sdk/walk-cursor.ts). Mid-walk, a page's cursor keeps the filter, offset and newest time of the
 * page after it, so a later run carries the walk on from there rather than from the newest time minus the
 * look-back: a backlog of more records in the look-back window than one run reads (a bulk change stamped in one
 * minute) would otherwise be read again from its start by every run, and never passed.
 */
interface LgspSoapReadState {
  [key: string]: string | number | null;
  since: string | null;
  offset: number;
  newest: string | null;
  walk: number;
  pages: number;
  walkStartedAt: string | null;
}

const dateFormat = 'dd/MM/yyyy HH:mm:ss';
const namespace = 'http://motcua.gov.vn/';

const parser = new XMLParser({
  removeNSPrefix: true,
  ignoreAttributes: true,
  parseTagValue: false,
  trimValues: true,
  // One <HoSo> is still a list of one.
  isArray: (name) => name === 'HoSo',
});
const builder = new XMLBuilder({ ignoreAttributes: false, suppressEmptyNode: true });

/** Reads an element's text: absent and empty elements are null. */
function textOf(item: Record<string, unknown>, name: string): string | null {
  const value = item[name];
  if (value === undefined || value === null || value === '') return null;
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return String(value);
  throw new MappingError('bad_value', `${name}: expected text, got nested XML`);
}

/** Where `mapLgspDossier` reads each canonical field: the child elements of `<HoSo>`. */
export const lgspFieldSources: readonly FieldSource[] = [
  { field: 'dossierCode', path: 'SoHoSo' },
  { field: 'provinceCode', path: 'MaTinh' },
  { field: 'procedureCode', path: 'MaThuTuc' },
  { field: 'sectorCode', path: 'MaLinhVuc' },
  { field: 'agencyCode', path: 'CoQuan' },
  { field: 'channel', path: 'KenhNop' },
  { field: 'applicantType', path: 'LoaiDoiTuong' },
  { field: 'status', path: 'TrangThai' },
  { field: 'submittedAt', path: 'NgayNop' },
  { field: 'receivedAt', path: 'NgayTiepNhan' },
  { field: 'dueAt', path: 'NgayHenTra' },
  { field: 'finishedAt', path: 'NgayXuLyXong' },
  { field: 'returnedAt', path: 'NgayTraKetQua' },
  { field: 'rejectedAt', path: 'NgayTuChoi' },
  { field: 'sourceUpdatedAt', path: 'NgayCapNhat' },
  { field: 'sourceVersion', path: 'PhienBan' },
];

/** Maps one `<HoSo>` element to the canonical form. */
export function mapLgspDossier(raw: unknown): DossierRecordInput {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw))
    throw new MappingError('malformed_record', 'expected a <HoSo> element with child elements');
  const item = raw as Record<string, unknown>;
  const dossierCode = textOf(item, 'SoHoSo');
  if (!dossierCode) throw new MappingError('missing_field', 'SoHoSo: expected the dossier code, got none');
  try {
    const date = (name: string) => parseSourceDate(textOf(item, name), name, dateFormat);
    const number = (name: string) => {
      const value = textOf(item, name);
      if (value === null) return null;
      if (!/^\d+$/.test(value))
        throw new MappingError('bad_value', `${name}: expected a whole number, got ${quoteSourceValue(value, name)}`);
      return Number(value);
    };
    const label = textOf(item, 'TrangThai');
    if (!label) throw new MappingError('missing_field', 'TrangThai: expected the dossier status, got none');
    const status: DossierStatus | undefined = vietnameseStatusLabels.get(label.normalize('NFC').trim().toLowerCase());
    if (!status)
      throw new MappingError(
        'unknown_status',
        `TrangThai: ${quoteSourceValue(label, 'TrangThai')} is not a status label of the national list`,
      );
    const sourceUpdatedAt = date('NgayCapNhat');
    if (!sourceUpdatedAt)
      throw new MappingError('missing_field', 'NgayCapNhat: expected the time of the last change, got none');
    return {
      dossierCode,
      provinceCode: textOf(item, 'MaTinh'),
      procedureCode: textOf(item, 'MaThuTuc'),
      sectorCode: textOf(item, 'MaLinhVuc'),
      agencyCode: textOf(item, 'CoQuan'),
      channel: number('KenhNop'),
      applicantType: number('LoaiDoiTuong'),
      status,
      sourceStatus: label,
      submittedAt: date('NgayNop'),
      receivedAt: date('NgayTiepNhan'),
      dueAt: date('NgayHenTra'),
      finishedAt: date('NgayXuLyXong'),
      returnedAt: date('NgayTraKetQua'),
      rejectedAt: date('NgayTuChoi'),
      sourceUpdatedAt,
      sourceVersion: number('PhienBan') ?? sourceUpdatedAt.getTime(),
    };
  } catch (error) {
    if (error instanceof MappingError) error.dossierCode = dossierCode;
    throw error;
  }
}

/** Pages `LayDanhSachHoSo` by offset from a since-time, in (NgayCapNhat, SoHoSo) order. */
export class LgspSoapConnector implements Connector {
  private readonly http: AxiosInstance;
  private readonly gate: RequestGate;
  private readonly password: () => string;

  constructor(private readonly settings: ConnectorSettings<LgspSoapConfig>) {
    const { config } = settings;
    this.gate = settings.gate ?? new RequestPacer(config.rateLimit);
    this.password = lazySecret(config.password, `connector ${settings.id}: password`);
    this.http = axios.create({ baseURL: config.baseUrl, timeout: config.timeoutMs, responseType: 'text' });
  }

  /** Carries a walk saved mid-way on from its position; otherwise begins a new one, re-reading the look-back window. */
  startFrom(committed: Cursor | null): ReadState {
    const { resume, walk, pages, walkStartedAt } = walkOf(committed);
    const text = (value: unknown): value is string | null => value === null || typeof value === 'string';
    if (resume && text(resume.since) && text(resume.newest) && typeof resume.offset === 'number') {
      const carried: LgspSoapReadState = {
        since: resume.since,
        offset: resume.offset,
        newest: resume.newest,
        walk,
        pages,
        walkStartedAt,
      };
      return carried;
    }
    const since = sinceOf(committed);
    const rewound =
      since === null ? null : new Date(Date.parse(since) - this.settings.config.lookbackSeconds * 1000).toISOString();
    const state: LgspSoapReadState = { since: rewound, offset: 0, newest: since, ...nextWalk(committed) };
    return state;
  }

  /** Walk first (connectors/sdk/walk-cursor.ts), then the since-part (cursors stored before walks were counted). */
  compareCursors(a: Cursor, b: Cursor): number {
    return compareWalks(a, b) || compareSinceCursors(a, b);
  }

  private envelope(state: LgspSoapReadState): string {
    const operation: Record<string, unknown> = { '@_xmlns': namespace, MaTinh: this.settings.sourceProvinceCode };
    if (state.since) operation.TuNgay = formatSourceDate(new Date(state.since), dateFormat);
    operation.ViTri = state.offset;
    operation.SoLuong = this.settings.config.pageSize;
    return builder.build({
      'soap:Envelope': {
        '@_xmlns:soap': 'http://schemas.xmlsoap.org/soap/envelope/',
        'soap:Body': { LayDanhSachHoSo: operation },
      },
    }) as string;
  }

  async read(from: ReadState | null, signal?: AbortSignal): Promise<SourcePage> {
    const state = (from as LgspSoapReadState | null) ?? (this.startFrom(null) as LgspSoapReadState);
    const { config } = this.settings;
    const what = `connector ${this.settings.id}: SOAP LayDanhSachHoSo at ${config.path}`;
    const auth = { username: config.username, password: this.password() };
    let xml: string;
    try {
      const response = await this.gate.run(() =>
        this.http.post(config.path, this.envelope(state), {
          auth,
          headers: { 'Content-Type': 'text/xml; charset=utf-8', SOAPAction: `"${config.soapAction}"` },
          signal,
          validateStatus: () => true,
        }),
      );
      xml = String(response.data);
      if (response.status >= 400) throw this.fault(xml, response.status, what);
    } catch (error) {
      throw error instanceof SourceError ? error : toSourceError(error, what);
    }
    let document: Record<string, unknown>;
    try {
      document = parser.parse(xml) as Record<string, unknown>;
    } catch {
      throw new SourceError(`${what}: the answer is not well-formed XML`, false);
    }
    const result = (
      ((document.Envelope as Record<string, unknown> | undefined)?.Body as Record<string, unknown> | undefined)
        ?.LayDanhSachHoSoResponse as Record<string, unknown> | undefined
    )?.KetQua as Record<string, unknown> | undefined;
    if (!result)
      throw new SourceError(
        `${what}: the answer has no LayDanhSachHoSoResponse/KetQua element; check the path and SOAPAction`,
        false,
      );
    const list = result.DanhSachHoSo;
    const items: unknown[] =
      list && typeof list === 'object' ? (((list as Record<string, unknown>).HoSo as unknown[] | undefined) ?? []) : [];

    let newest = state.newest;
    for (const item of items) {
      try {
        const updated = parseSourceDate((item as Record<string, unknown>).NgayCapNhat, 'NgayCapNhat', dateFormat);
        if (updated && (newest === null || updated.toISOString() > newest)) newest = updated.toISOString();
      } catch {
        // A record with a bad update time becomes a dead letter through `map` and moves no cursor.
      }
    }
    const next: LgspSoapReadState | null =
      items.length >= config.pageSize
        ? { ...state, offset: state.offset + items.length, newest, pages: state.pages + 1 }
        : null;
    const resume = next ? { since: next.since, offset: next.offset, newest } : null;
    return { items, cursor: { since: newest, ...walkFields(state, resume) }, next };
  }

  /**
   * A SOAP fault as an actionable error: an authentication or client fault is never worth retrying, whatever its
   * status; any other is transient when its status is one of the connector's `retry.transientStatusCodes`.
   */
  private fault(xml: string, status: number, what: string): SourceError {
    let faultCode = '';
    let faultString = '';
    try {
      const fault = ((parser.parse(xml) as Record<string, Record<string, Record<string, unknown>>>).Envelope?.Body
        ?.Fault ?? {}) as Record<string, unknown>;
      faultCode = String(fault.faultcode ?? '');
      faultString = String(fault.faultstring ?? '').slice(0, 200);
    } catch {
      // Not a SOAP fault: fall back to the HTTP status.
    }
    const client = /Client$/.test(faultCode) || status === 401 || status === 403;
    const hint = client ? '; check the gateway user name and the password reference' : '';
    const transient = !client && this.settings.config.retry.transientStatusCodes.includes(status);
    return new SourceError(
      `${what}: ${faultString ? `SOAP fault ${faultCode}: ${faultString}` : `HTTP ${status}`}${hint}`,
      transient,
      status,
    );
  }

  map(item: unknown): DossierRecordInput {
    return mapLgspDossier(item);
  }

  mappedFields(): readonly FieldSource[] {
    return lgspFieldSources;
  }
}

/** The plugin: loaded by the name `lgsp-soap`. */
export const lgspSoapPlugin: ConnectorPlugin<LgspSoapConfig> = {
  kind: 'lgsp-soap',
  description:
    'SOAP/XML one-stop-shop service behind the provincial integration platform (LGSP), operation LayDanhSachHoSo',
  configSchema: lgspSoapConfig,
  create: (settings) => new LgspSoapConnector(settings),
};
