import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify';
import { dossierStatuses } from '../../../../connectors/sdk/dossier-status.js';
import type { CursorIndex, CursorStart } from '../cursor-index.js';
import { BadRequestError } from '../dossier-query.js';
import { agencyCode } from '../portal-wire-format.js';
import type { SimulatedDossier } from '../simulated-dossier.js';
import { basicCredentials } from './authorization-header.js';
import type { DialectContext } from './dialect-context.js';
import { integerInRange, optionalText, timeInFormat, type RequestParameters } from './request-parameters.js';
import { sameSecret } from './same-secret.js';
import { readSoapOperation, SoapClientError, soapFault, soapResponse } from './soap-envelope.js';
import { slashedVietnamTime } from './vietnam-time-formats.js';

// The "lgsp-soap" vendor dialect: a one-stop-shop system reached through the provincial integration
// platform (LGSP) as a SOAP 1.1 service. Vietnamese element names and status labels, dd/MM/yyyy HH:mm:ss
// times, offset/limit paging, HTTP Basic auth, and every error a SOAP Fault with HTTP 500, as real LGSP
// gateways answer. The wire format is documented in README.md beside this file; keep the two in step.

/** One `<HoSo>`, element by element in document order. */
export interface LgspHoSo {
  SoHoSo: string;
  MaTinh: string;
  MaThuTuc: string;
  MaLinhVuc: string;
  CoQuan: string;
  KenhNop: number;
  LoaiDoiTuong: number;
  TrangThai: string;
  NgayNop: string;
  NgayTiepNhan: string;
  NgayHenTra: string;
  NgayXuLyXong: string;
  NgayTraKetQua: string;
  NgayTuChoi: string;
  NgayCapNhat: string;
  PhienBan: number;
  NguoiNop: { HoTen: string; SoDinhDanh: string; DienThoai: string; DiaChi: string };
}

export const lgspPath = '/lgsp/motcua/soap';
export const motcuaNamespace = 'http://motcua.gov.vn/';
export const lgspOperation = 'LayDanhSachHoSo';
/** The SOAPAction header value, without the quotes SOAP 1.1 clients put around it. */
export const lgspSoapAction = `${motcuaNamespace}${lgspOperation}`;
export const lgspAuthenticationFailed = 'Xác thực thất bại (authentication failed)';

/** Served as `<TrangThai>` for `unknown_status` dossiers: a label outside the national list ("archived"). */
export const lgspUnknownStatus = 'Lưu trữ';
/** Served as `<NgayHenTra>` for `bad_date` dossiers: the right shape, but 31 February at 25 o'clock. */
export const lgspBadDate = '31/02/2026 25:00:00';

export const lgspDefaultPageSize = 100;
export const lgspMaxPageSize = 500;

/** Registers `POST /lgsp/motcua/soap`. */
export function registerLgspSoapDialect(server: FastifyInstance, context: DialectContext): void {
  const { username, password } = context.credentials;

  server.register(async (lgsp) => {
    // Every body arrives as text, whatever its Content-Type, so a wrong one gets a SOAP Fault, not fastify's 415.
    lgsp.removeAllContentTypeParsers();
    lgsp.addContentTypeParser('*', { parseAs: 'string' }, (_request, body, done) => done(null, body));
    lgsp.setErrorHandler((error: FastifyError, _request, reply) => {
      const byClient = error.statusCode !== undefined && error.statusCode < 500;
      return sendFault(reply, byClient ? 'soap:Client' : 'soap:Server', error.message);
    });

    lgsp.addHook('onRequest', async (request, reply) => {
      if (username === undefined || password === undefined) return;
      const given = basicCredentials(request.headers.authorization);
      if (!given || !sameSecret(given.user, username) || !sameSecret(given.password, password)) {
        reply.header('www-authenticate', 'Basic realm="LGSP"');
        return sendFault(reply, 'soap:Client', lgspAuthenticationFailed);
      }
    });

    lgsp.post(lgspPath, async (request, reply) => {
      try {
        if (!/^text\/xml\s*(;|$)/i.test(request.headers['content-type'] ?? '')) {
          throw new SoapClientError('Content-Type must be text/xml; charset=utf-8 (SOAP 1.1)');
        }
        const action = request.headers.soapaction;
        // SOAP 1.1 quotes the action; tolerate a client that does not.
        if (typeof action !== 'string' || action.trim().replace(/^"(.*)"$/, '$1') !== lgspSoapAction) {
          throw new SoapClientError(`SOAPAction must be "${lgspSoapAction}"`);
        }
        const operation = readSoapOperation(typeof request.body === 'string' ? request.body : '', lgspOperation);
        const { index, start, offset, limit } = parseLgspRequest(operation, context);
        const { dossiers } = index.page(start, limit, offset);
        const result = { TongSo: index.countFrom(start), DanhSachHoSo: { HoSo: dossiers.map(toLgspHoSo) } };
        const xml = soapResponse({ LayDanhSachHoSoResponse: { '@_xmlns': motcuaNamespace, KetQua: result } });
        return reply.code(200).type('text/xml; charset=utf-8').send(xml);
      } catch (error) {
        if (error instanceof SoapClientError || error instanceof BadRequestError)
          return sendFault(reply, 'soap:Client', error.message);
        throw error;
      }
    });
  });
}

/** The `<HoSo>` for a dossier, broken the way its `malformed` kind says. */
export function toLgspHoSo(dossier: SimulatedDossier): LgspHoSo {
  const { procedure, applicant } = dossier;
  // A date that has not happened is an empty element.
  const at = (time: number | null) => (time === null ? '' : slashedVietnamTime(time));
  return {
    SoHoSo: dossier.code,
    MaTinh: dossier.provinceCode,
    MaThuTuc: procedure.code,
    MaLinhVuc: procedure.sectorCode,
    CoQuan: agencyCode(dossier),
    KenhNop: dossier.channel,
    LoaiDoiTuong: dossier.applicantType,
    TrangThai: dossier.malformed === 'unknown_status' ? lgspUnknownStatus : dossierStatuses[dossier.status].vi,
    NgayNop: slashedVietnamTime(dossier.submittedAt),
    NgayTiepNhan: at(dossier.receivedAt),
    NgayHenTra: dossier.malformed === 'bad_date' ? lgspBadDate : at(dossier.dueAt),
    NgayXuLyXong: at(dossier.finishedAt),
    NgayTraKetQua: at(dossier.returnedAt),
    NgayTuChoi: at(dossier.rejectedAt),
    NgayCapNhat: slashedVietnamTime(dossier.updatedAt),
    PhienBan: dossier.version,
    NguoiNop: {
      HoTen: applicant.fullName,
      SoDinhDanh: applicant.idNumber,
      DienThoai: applicant.phone,
      DiaChi: applicant.address,
    },
  };
}

function parseLgspRequest(
  operation: RequestParameters,
  context: DialectContext,
): { index: CursorIndex; start: CursorStart; offset: number; limit: number } {
  // An empty element is as good as none: generated SOAP clients send every element of the contract.
  const given = Object.fromEntries(Object.entries(operation).filter(([, value]) => value !== ''));
  const provinceCode = optionalText(given, 'MaTinh');
  if (provinceCode === null) throw new BadRequestError('MaTinh is required');
  const index = context.indexOf(provinceCode);
  if (!index) throw new BadRequestError(`MaTinh ${JSON.stringify(provinceCode)} is not served here`);
  return {
    index,
    start: { updatedSince: timeInFormat(given, 'TuNgay', 'dd/MM/yyyy HH:mm:ss'), afterCode: null },
    offset: integerInRange(given, 'ViTri', { min: 0, max: Number.MAX_SAFE_INTEGER, fallback: 0 }),
    limit: integerInRange(given, 'SoLuong', { min: 1, max: lgspMaxPageSize, fallback: lgspDefaultPageSize }),
  };
}

function sendFault(reply: FastifyReply, faultcode: 'soap:Client' | 'soap:Server', faultstring: string): FastifyReply {
  return reply.code(500).type('text/xml; charset=utf-8').send(soapFault(faultcode, faultstring));
}
