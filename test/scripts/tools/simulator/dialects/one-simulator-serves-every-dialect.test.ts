import { afterEach, describe, expect, it } from 'vitest';
import { parseSourceDate } from '../../../../../connectors/sdk/dates.js';
import { dossierStatuses, englishStatusWords, statusCodes } from '../../../../../connectors/sdk/dossier-status.js';
import { ProvinceSimulator } from '../../../../../scripts/tools/simulator/province-simulator.js';
import type { DossierPage } from '../portal-client.js';
import { nationalStatusOf, readAllDvc } from './dvc-client.js';
import { fetchIgateToken, readAllIgate } from './igate-client.js';
import { basic, readAllLgsp } from './lgsp-client.js';

const statusOfLabel = new Map<string, number>(statusCodes.map((code) => [dossierStatuses[code].vi, code]));
let simulator: ProvinceSimulator | undefined;
afterEach(() => simulator?.stop());

/** One line per dossier, the same whichever dialect it was read through: code, national status, update instant. */
const line = (code: string, status: number | undefined, updatedAt: Date | null | undefined) =>
  `${code} ${status} ${updatedAt?.toISOString()}`;

/**
 * All of province 79 in one /api/dossiers page: portal-client sends no X-Api-Key, and the portal dialect keeps its own
 * key.
 */
async function readAllPortal(baseUrl: string, apiKey: string): Promise<string[]> {
  const response = await fetch(`${baseUrl}/api/dossiers?province=79&limit=5000`, { headers: { 'X-Api-Key': apiKey } });
  const { items } = (await response.json()) as DossierPage;
  return items.map((item) =>
    line(item.MaHoSo, Number(item.TrangThaiHoSo), parseSourceDate(item.NgayCapNhat, 'NgayCapNhat', 'yyyyMMddHHmmss')),
  );
}

describe('one simulator, every dialect', () => {
  it('serves the same dossiers, in the same order, through /api/dossiers, igate, dvc and lgsp-soap at once, each behind its own auth', async () => {
    simulator = new ProvinceSimulator({
      provinces: ['01', '79'],
      dossiersPerProvince: 400,
      baseTime: new Date(Date.now() - 86_400_000),
      paused: true,
      apiKey: 'portal-key',
      credentials: {
        clientId: 'igate-client',
        clientSecret: 'igate-secret',
        apiKey: 'dvc-key',
        username: 'lgsp-user',
        password: 'lgsp-password',
      },
    });
    const url = await simulator.start();
    simulator.advance(500);
    const expected = [...simulator.truth()]
      .filter((row) => row.provinceCode === '79')
      .sort(
        (a, b) =>
          a.updatedAt.localeCompare(b.updatedAt) ||
          (a.dossierCode < b.dossierCode ? -1 : a.dossierCode > b.dossierCode ? 1 : 0),
      )
      .map((row) => line(row.dossierCode, row.status, new Date(row.updatedAt)));

    const portal = await readAllPortal(url, 'portal-key');
    const igate = await readAllIgate(url, '79', {
      by: 'offset',
      size: 150,
      token: await fetchIgateToken(url, 'igate-client', 'igate-secret'),
    });
    const dvc = await readAllDvc(url, { province: '79', limit: '150', apikey: 'dvc-key' }, 'link');
    const lgsp = await readAllLgsp(url, '79', { pageSize: 150, authorization: basic('lgsp-user', 'lgsp-password') });

    expect(portal).toEqual(expected);
    expect(
      igate.items.map((item) =>
        line(item.code, englishStatusWords[item.state], parseSourceDate(item.updatedAt, 'updatedAt', 'iso')),
      ),
    ).toEqual(expected);
    expect(
      dvc.records.map((record) =>
        line(
          record.ma_ho_so,
          nationalStatusOf(record.trang_thai),
          parseSourceDate(record.cap_nhat_luc, 'cap_nhat_luc', 'yyyyMMddHHmmss'),
        ),
      ),
    ).toEqual(expected);
    expect(
      lgsp.records.map((record) =>
        line(
          record.SoHoSo,
          statusOfLabel.get(record.TrangThai),
          parseSourceDate(record.NgayCapNhat, 'NgayCapNhat', 'dd/MM/yyyy HH:mm:ss'),
        ),
      ),
    ).toEqual(expected);
  });
});
