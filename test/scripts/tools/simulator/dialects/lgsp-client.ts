import { XMLParser } from 'fast-xml-parser';
import type { LgspHoSo } from '../../../../../scripts/tools/simulator/dialects/lgsp-soap-dialect.js';

const soapAction = '"http://motcua.gov.vn/LayDanhSachHoSo"';

/** A `<HoSo>` as a consumer parses it: every value text, as on the wire. */
export type ParsedHoSo = {
  [K in keyof LgspHoSo]: K extends 'NguoiNop' ? Record<keyof LgspHoSo['NguoiNop'], string> : string;
};

/** The request envelope of the README, with the given LayDanhSachHoSo children (raw XML text, already escaped). */
export function layDanhSachHoSo(children: Record<string, string>): string {
  const elements = Object.entries(children)
    .map(([name, value]) => `<${name}>${value}</${name}>`)
    .join('');
  return (
    '<?xml version="1.0" encoding="utf-8"?>' +
    '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>' +
    `<LayDanhSachHoSo xmlns="http://motcua.gov.vn/">${elements}</LayDanhSachHoSo>` +
    '</soap:Body></soap:Envelope>'
  );
}

/** HTTP Basic credentials as a header value. */
export function basic(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}

/** POSTs an envelope with the README's headers; `headers` adds to or overrides them. */
export async function postSoap(
  baseUrl: string,
  body: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Headers; xml: string }> {
  const response = await fetch(`${baseUrl}/lgsp/motcua/soap`, {
    method: 'POST',
    headers: { 'content-type': 'text/xml; charset=utf-8', soapaction: soapAction, ...headers },
    body,
  });
  return { status: response.status, headers: response.headers, xml: await response.text() };
}

const parser = new XMLParser({ removeNSPrefix: true, parseTagValue: false, isArray: (name) => name === 'HoSo' });

/** TongSo and the HoSo list of a LayDanhSachHoSoResponse. */
export function parseResult(xml: string): { total: number; records: ParsedHoSo[] } {
  const document = parser.parse(xml) as {
    Envelope: {
      Body: { LayDanhSachHoSoResponse: { KetQua: { TongSo: string; DanhSachHoSo: '' | { HoSo: ParsedHoSo[] } } } };
    };
  };
  const { TongSo, DanhSachHoSo } = document.Envelope.Body.LayDanhSachHoSoResponse.KetQua;
  return { total: Number(TongSo), records: DanhSachHoSo === '' ? [] : DanhSachHoSo.HoSo };
}

/** The faultcode and faultstring of a SOAP Fault. */
export function parseFault(xml: string): { faultcode: string; faultstring: string } {
  return (parser.parse(xml) as { Envelope: { Body: { Fault: { faultcode: string; faultstring: string } } } }).Envelope
    .Body.Fault;
}

/** Reads a province to the end by ViTri/SoLuong; fails the test on anything but 200. */
export async function readAllLgsp(
  baseUrl: string,
  province: string,
  options: { pageSize: number; authorization?: string; since?: string },
): Promise<{ records: ParsedHoSo[]; totals: number[] }> {
  const records: ParsedHoSo[] = [];
  const totals: number[] = [];
  const headers: Record<string, string> =
    options.authorization === undefined ? {} : { authorization: options.authorization };
  for (;;) {
    const children = {
      MaTinh: province,
      ...(options.since ? { TuNgay: options.since } : {}),
      ViTri: String(records.length),
      SoLuong: String(options.pageSize),
    };
    const { status, xml } = await postSoap(baseUrl, layDanhSachHoSo(children), headers);
    if (status !== 200) throw new Error(`expected 200, got ${status}: ${xml}`);
    const page = parseResult(xml);
    records.push(...page.records);
    totals.push(page.total);
    if (page.records.length < options.pageSize) return { records, totals };
  }
}
