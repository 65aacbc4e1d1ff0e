import { afterEach, describe, expect, it } from 'vitest';
import { ProvinceSimulator, type SimulatorOptions } from '../../../../../scripts/tools/simulator/province-simulator.js';
import { basic, layDanhSachHoSo, parseFault, parseResult, postSoap } from './lgsp-client.js';

const credentials = { username: 'lgsp-user', password: 'mật khẩu:1' };
const rightAuth = { authorization: basic('lgsp-user', 'mật khẩu:1') };
const validRequest = layDanhSachHoSo({ MaTinh: '01', ViTri: '0', SoLuong: '10' });
let simulator: ProvinceSimulator | undefined;
afterEach(() => simulator?.stop());

async function start(options: Partial<SimulatorOptions> = {}): Promise<string> {
  simulator = new ProvinceSimulator({
    provinces: ['01'],
    dossiersPerProvince: 30,
    paused: true,
    credentials,
    ...options,
  });
  return simulator.start();
}

describe('lgsp-soap HTTP Basic auth', () => {
  it('serves the right user and password', async () => {
    const url = await start();

    const response = await postSoap(url, validRequest, rightAuth);

    expect(response.status).toBe(200);
    expect(parseResult(response.xml).records).toHaveLength(10);
  });

  it.each([
    ['no Authorization header', {}],
    ['a wrong password', { authorization: basic('lgsp-user', 'mật khẩu:2') }],
    ['a wrong user', { authorization: basic('someone', 'mật khẩu:1') }],
    ['a Bearer token', { authorization: 'Bearer lgsp-user' }],
  ])(
    'answers 500 with a soap:Client authentication fault and WWW-Authenticate: Basic for %s',
    async (_case, headers) => {
      const url = await start();

      const response = await postSoap(url, validRequest, headers);

      expect(response.status).toBe(500);
      expect(response.headers.get('content-type')).toBe('text/xml; charset=utf-8');
      expect(response.headers.get('www-authenticate')).toMatch(/^Basic\b/);
      expect(parseFault(response.xml)).toEqual({
        faultcode: 'soap:Client',
        faultstring: 'Xác thực thất bại (authentication failed)',
      });
    },
  );

  it('is open when no user is configured', async () => {
    const url = await start({ credentials: { apiKey: 'dvc-only' } });

    expect((await postSoap(url, validRequest)).status).toBe(200);
  });
});

describe('lgsp-soap request faults', () => {
  it.each([
    ['malformed XML', '<soap:Envelope><soap:Body><LayDanhSachHoSo>', {}],
    ['text that is not XML', 'MaTinh=01', {}],
    ['an envelope without the operation', layDanhSachHoSo({}).replace(/LayDanhSachHoSo/g, 'LayHoSo'), {}],
    ['no MaTinh', layDanhSachHoSo({ SoLuong: '10' }), {}],
    ['a MaTinh this simulator does not serve', layDanhSachHoSo({ MaTinh: '48' }), {}],
    ['SoLuong 0', layDanhSachHoSo({ MaTinh: '01', SoLuong: '0' }), {}],
    ['SoLuong above 500', layDanhSachHoSo({ MaTinh: '01', SoLuong: '501' }), {}],
    ['a negative ViTri', layDanhSachHoSo({ MaTinh: '01', ViTri: '-1' }), {}],
    ['a TuNgay that is not a date', layDanhSachHoSo({ MaTinh: '01', TuNgay: '31/02/2026 25:00:00' }), {}],
    ['a TuNgay in the portal format', layDanhSachHoSo({ MaTinh: '01', TuNgay: '20260301100000' }), {}],
    ['another SOAPAction', validRequest, { soapaction: '"http://motcua.gov.vn/LayHoSo"' }],
    ['a JSON Content-Type', validRequest, { 'content-type': 'application/json' }],
  ])('answers 500 with a soap:Client fault for %s', async (_case, body, headers) => {
    const url = await start();

    const response = await postSoap(url, body, { ...rightAuth, ...headers });

    expect(response.status).toBe(500);
    const fault = parseFault(response.xml);
    expect(fault.faultcode).toBe('soap:Client');
    expect(fault.faultstring).toEqual(expect.any(String));
  });

  it('accepts a SOAPAction without quotes and other namespace prefixes', async () => {
    const url = await start();
    const body = validRequest.replace(/soap:/g, 's:').replace('xmlns:soap=', 'xmlns:s=');

    const response = await postSoap(url, body, { ...rightAuth, soapaction: 'http://motcua.gov.vn/LayDanhSachHoSo' });

    expect(response.status).toBe(200);
  });
});
