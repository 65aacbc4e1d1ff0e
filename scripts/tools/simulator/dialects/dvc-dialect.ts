import type { FastifyError, FastifyInstance, FastifyRequest } from 'fastify';
import type { CursorIndex, CursorStart } from '../cursor-index.js';
import { BadRequestError } from '../dossier-query.js';
import { agencyCode } from '../portal-wire-format.js';
import type { SimulatedDossier } from '../simulated-dossier.js';
import { bearerToken } from './authorization-header.js';
import type { DialectContext } from './dialect-context.js';
import { cursorAfter, readCursor } from './dvc-cursor-token.js';
import { sourceProvinceOf } from './former-province-codes.js';
import { codeList, parseScope, requiredProvince } from '../portal-reconcile-routes.js';
import { integerInRange, optionalText, timeInFormat, type RequestParameters } from './request-parameters.js';
import { sameSecret } from './same-secret.js';
import { compactVietnamTime } from './vietnam-time-formats.js';

// The "dvc" vendor dialect: a flat snake_case JSON API of a merged province's system, with the vendor's own
// status codes, yyyyMMddHHmmss times, an opaque cursor (also offered as a `Link` header) and an API key in
// the query string. The wire format is documented in README.md beside this file; keep the two in step.

/** One record as dvc serves it. */
export interface DvcRecord {
  ma_ho_so: string;
  /** The province code the record was filed under, in the code set `bo_ma` names. */
  ma_tinh: string;
  bo_ma: '2008' | '2025';
  ma_thu_tuc: string;
  ma_linh_vuc: string;
  don_vi: string;
  kenh: 1 | 2 | 3;
  doi_tuong: 1 | 2 | 3 | 4;
  trang_thai: string;
  ngay_nop: string;
  ngay_tiep_nhan: string;
  han_xu_ly: string;
  ngay_hoan_thanh: string;
  ngay_tra: string;
  ngay_tu_choi: string;
  cap_nhat_luc: string;
  phien_ban: number;
  nguoi_nop: { ho_ten: string; so_cccd: string; dien_thoai: string; dia_chi: string };
}

/** The body of `GET /dvc/v2/records`. */
export interface DvcRecordPage {
  records: DvcRecord[];
  next_cursor: string | null;
}

/** The body of `GET /dvc/v2/records/summary`: every dossier of the scope, in cursor order. */
export interface DvcListing {
  total: number;
  items: { ma_ho_so: string; phien_ban: number; trang_thai: string }[];
}

/** The most dossiers `GET /dvc/v2/records/summary` lists; a larger scope is refused with 400. */
export const dvcMaxListing = 5000;

/** The dossiers of a scope, refused (BadRequestError) past `dvcMaxListing`. */
function* listDossiers(dossiers: Iterable<SimulatedDossier>): Generator<SimulatedDossier> {
  let listed = 0;
  for (const dossier of dossiers) {
    if (++listed > dvcMaxListing)
      throw new BadRequestError(`more than ${dvcMaxListing} records in the range; narrow from/to or code_from/code_to`);
    yield dossier;
  }
}

/** Served as `trang_thai` for `unknown_status` dossiers: outside the vendor's TT01–TT10. */
export const dvcUnknownStatus = 'TT99';
/** Served as `han_xu_ly` for `bad_date` dossiers: the right shape, but 31 February at 25 o'clock. */
export const dvcBadDate = '20260231250000';

export const dvcDefaultLimit = 100;
export const dvcMaxLimit = 1000;

/** Registers `GET /dvc/v2/records`. */
export function registerDvcDialect(server: FastifyInstance, context: DialectContext): void {
  const { apiKey, bearerToken: staticToken } = context.credentials;

  server.register(async (dvc) => {
    dvc.setErrorHandler((error: FastifyError, _request, reply) => {
      const status = error.statusCode !== undefined && error.statusCode < 500 ? error.statusCode : 500;
      return reply.code(status).send({ message: error.message });
    });

    dvc.addHook('onRequest', async (request, reply) => {
      if (apiKey === undefined && staticToken === undefined) return;
      // Either credential will do: the apikey in the query string, or the static token as a Bearer header.
      const query = request.query as RequestParameters;
      const byKey = apiKey !== undefined && sameSecret(query.apikey as string | undefined, apiKey);
      const byToken = staticToken !== undefined && sameSecret(bearerToken(request.headers.authorization), staticToken);
      if (!byKey && !byToken) return reply.code(403).send({ message: 'invalid api key' });
    });

    dvc.get('/dvc/v2/records', async (request, reply) => {
      const query = request.query as RequestParameters;
      try {
        const { provinceCode, index, start, limit } = parseDvcQuery(query, context);
        const { dossiers, hasMore } = index.page(start, limit);
        const last = dossiers.at(-1);
        const nextCursor = hasMore && last ? cursorAfter(last) : null;
        if (nextCursor !== null)
          reply.header(
            'link',
            `<${nextPageUrl(request, { province: provinceCode, limit, cursor: nextCursor })}>; rel="next"`,
          );
        return { records: dossiers.map(toDvcRecord), next_cursor: nextCursor } satisfies DvcRecordPage;
      } catch (error) {
        if (error instanceof BadRequestError) return reply.code(400).send({ message: error.message });
        throw error;
      }
    });

    // Reconciliation: a vendor that cannot hash lists a scope instead, in its own names and status codes.
    dvc.get('/dvc/v2/records/summary', async (request, reply) => {
      try {
        const query = request.query as RequestParameters;
        const province = requiredProvince(query, context.provinceOf);
        const scope = parseScope(query, {
          from: 'from',
          to: 'to',
          codeFrom: 'code_from',
          codeTo: 'code_to',
          time: (text, name) => timeInFormat({ [name]: text }, name, 'yyyyMMddHHmmss') as number,
        });
        const items = [...listDossiers(province.summaries.dossiersIn(scope))].map((dossier) => ({
          ma_ho_so: dossier.code,
          phien_ban: dossier.version,
          trang_thai: toDvcRecord(dossier).trang_thai,
        }));
        return { total: items.length, items } satisfies DvcListing;
      } catch (error) {
        if (error instanceof BadRequestError) return reply.code(400).send({ message: error.message });
        throw error;
      }
    });

    dvc.get('/dvc/v2/records/by-code', async (request, reply) => {
      try {
        const query = request.query as RequestParameters;
        const province = requiredProvince(query, context.provinceOf);
        const records = codeList(query, 'codes').flatMap((code) => {
          const dossier = province.byCode.get(code);
          return dossier ? [toDvcRecord(dossier)] : [];
        });
        return { records };
      } catch (error) {
        if (error instanceof BadRequestError) return reply.code(400).send({ message: error.message });
        throw error;
      }
    });
  });
}

/** The wire record for a dossier, broken the way its `malformed` kind says. */
export function toDvcRecord(dossier: SimulatedDossier): DvcRecord {
  const { procedure, applicant } = dossier;
  const source = sourceProvinceOf(dossier);
  // dvc sends "" for a date that has not happened, never null.
  const at = (time: number | null) => (time === null ? '' : compactVietnamTime(time));
  return {
    ma_ho_so: dossier.code,
    ma_tinh: source.code,
    bo_ma: source.codeSet,
    ma_thu_tuc: procedure.code,
    ma_linh_vuc: procedure.sectorCode,
    don_vi: agencyCode(dossier),
    kenh: dossier.channel,
    doi_tuong: dossier.applicantType,
    trang_thai:
      dossier.malformed === 'unknown_status' ? dvcUnknownStatus : `TT${String(dossier.status).padStart(2, '0')}`,
    ngay_nop: compactVietnamTime(dossier.submittedAt),
    ngay_tiep_nhan: at(dossier.receivedAt),
    han_xu_ly: dossier.malformed === 'bad_date' ? dvcBadDate : at(dossier.dueAt),
    ngay_hoan_thanh: at(dossier.finishedAt),
    ngay_tra: at(dossier.returnedAt),
    ngay_tu_choi: at(dossier.rejectedAt),
    cap_nhat_luc: compactVietnamTime(dossier.updatedAt),
    phien_ban: dossier.version,
    nguoi_nop: {
      ho_ten: applicant.fullName,
      so_cccd: applicant.idNumber,
      dien_thoai: applicant.phone,
      dia_chi: applicant.address,
    },
  };
}

function parseDvcQuery(
  query: RequestParameters,
  context: DialectContext,
): { provinceCode: string; index: CursorIndex; start: CursorStart; limit: number } {
  const provinceCode = optionalText(query, 'province');
  if (provinceCode === null) throw new BadRequestError('province is required (the current, 2025 province code)');
  const index = context.indexOf(provinceCode);
  if (!index) throw new BadRequestError(`province ${JSON.stringify(provinceCode)} is not served here`);
  const limit = integerInRange(query, 'limit', { min: 1, max: dvcMaxLimit, fallback: dvcDefaultLimit });
  const token = optionalText(query, 'cursor');
  if (token === null)
    return {
      provinceCode,
      index,
      start: { updatedSince: timeInFormat(query, 'since', 'yyyyMMddHHmmss'), afterCode: null },
      limit,
    };
  // The cursor takes precedence and `since` is ignored: the cursor already lies past where `since` started the sync.
  const start = readCursor(token, provinceCode);
  if (!start)
    throw new BadRequestError(
      'invalid cursor: pass next_cursor of a previous response for the same province, unchanged',
    );
  return { provinceCode, index, start, limit };
}

/** The absolute URL of the next page: the same request with the cursor, carrying the apikey only if this one did. */
function nextPageUrl(request: FastifyRequest, next: { province: string; limit: number; cursor: string }): string {
  const parameters = new URLSearchParams({ province: next.province, limit: String(next.limit), cursor: next.cursor });
  const apikey = (request.query as RequestParameters).apikey;
  if (typeof apikey === 'string') parameters.set('apikey', apikey);
  return `${request.protocol}://${request.host}/dvc/v2/records?${parameters}`;
}
