import { afterEach, describe, expect, it } from 'vitest';
import { parseSourceDate } from '../../../../../connectors/sdk/dates.js';
import type { DvcRecord } from '../../../../../scripts/tools/simulator/dialects/dvc-dialect.js';
import { ProvinceSimulator } from '../../../../../scripts/tools/simulator/province-simulator.js';
import { truthByCode } from '../portal-client.js';
import { fetchDvcPage, nationalStatusOf, readAllDvc, requestDvc } from './dvc-client.js';

const baseTime = new Date('2026-03-01T03:00:00Z');
let simulator: ProvinceSimulator | undefined;
afterEach(() => simulator?.stop());

/** cap_nhat_luc is fixed-width yyyyMMddHHmmss, so string order is time order. */
function isInDvcOrder(records: readonly DvcRecord[]): boolean {
  return records.every((record, index) => {
    const previous = records[index - 1];
    return (
      !previous ||
      previous.cap_nhat_luc < record.cap_nhat_luc ||
      (previous.cap_nhat_luc === record.cap_nhat_luc && previous.ma_ho_so < record.ma_ho_so)
    );
  });
}

describe('dvc: GET /dvc/v2/records', () => {
  it.each(['next_cursor', 'link'] as const)(
    'following %s reads every record exactly once, in (cap_nhat_luc, ma_ho_so) order, agreeing with truth()',
    async (follow) => {
      simulator = new ProvinceSimulator({ provinces: ['01', '79'], dossiersPerProvince: 900, baseTime, paused: true });
      const url = await simulator.start();
      simulator.advance(600);

      const { records, pages } = await readAllDvc(url, { province: '79', limit: '97' }, follow);

      const truth = truthByCode(simulator.truth(), '79');
      expect(records).toHaveLength(truth.size);
      expect(pages).toBe(Math.ceil(900 / 97));
      expect(new Set(records.map((record) => record.ma_ho_so)).size).toBe(records.length);
      expect(isInDvcOrder(records)).toBe(true);
      for (const record of records) {
        const row = truth.get(record.ma_ho_so);
        expect(record.trang_thai).toMatch(/^TT(0[1-9]|10)$/);
        expect(nationalStatusOf(record.trang_thai)).toBe(row?.status);
        expect(record.phien_ban).toBe(row?.version);
        expect(parseSourceDate(record.cap_nhat_luc, 'cap_nhat_luc', 'yyyyMMddHHmmss')?.toISOString()).toBe(
          row?.updatedAt,
        );
      }
    },
  );

  it('keeps a cursor valid while records change: the rest of the sync still sees every record at least once', async () => {
    simulator = new ProvinceSimulator({
      provinces: ['01'],
      dossiersPerProvince: 500,
      baseTime: new Date(Date.now() - 86_400_000),
      paused: true,
    });
    const url = await simulator.start();
    const first = await fetchDvcPage(`${url}/dvc/v2/records?province=01&limit=200`);

    simulator.advance(300); // changed records move behind the cursor, stamped with the wall clock
    const rest = await readAllDvc(
      url,
      { province: '01', limit: '200', cursor: first.next_cursor ?? '' },
      'next_cursor',
    );

    const seen = new Set([...first.records, ...rest.records].map((record) => record.ma_ho_so));
    expect(seen.size).toBe(500);
    const latest = new Map([...first.records, ...rest.records].map((record) => [record.ma_ho_so, record.phien_ban]));
    for (const row of simulator.truth()) expect(latest.get(row.dossierCode)).toBe(row.version);
  });

  it('serves flat snake_case records, yyyyMMddHHmmss or "" dates, and the personal data under nguoi_nop', async () => {
    simulator = new ProvinceSimulator({ provinces: ['79'], dossiersPerProvince: 200, baseTime, paused: true });
    const url = await simulator.start();

    const { records } = await readAllDvc(url, { province: '79', limit: '1000' }, 'next_cursor');

    expect(Object.keys(records[0] ?? {}).sort()).toEqual(
      [
        'bo_ma',
        'cap_nhat_luc',
        'doi_tuong',
        'don_vi',
        'han_xu_ly',
        'kenh',
        'ma_ho_so',
        'ma_linh_vuc',
        'ma_thu_tuc',
        'ma_tinh',
        'ngay_hoan_thanh',
        'ngay_nop',
        'ngay_tiep_nhan',
        'ngay_tra',
        'ngay_tu_choi',
        'nguoi_nop',
        'phien_ban',
        'trang_thai',
      ].sort(),
    );
    expect(Object.keys(records[0]?.nguoi_nop ?? {}).sort()).toEqual(['dia_chi', 'dien_thoai', 'ho_ten', 'so_cccd']);
    for (const record of records) {
      for (const date of [
        record.ngay_nop,
        record.ngay_tiep_nhan,
        record.han_xu_ly,
        record.ngay_hoan_thanh,
        record.ngay_tra,
        record.ngay_tu_choi,
      ]) {
        expect(date).toMatch(/^(\d{14})?$/);
      }
      expect(record.ngay_nop).not.toBe('');
      expect([1, 2, 3]).toContain(record.kenh);
      expect([1, 2, 3, 4]).toContain(record.doi_tuong);
    }
    expect(records.some((record) => record.ngay_tiep_nhan === '')).toBe(true);
  });

  it('reads since as Vietnam time, inclusive', async () => {
    // Every dossier stamped 2026-03-01 03:00:00 UTC, which is 10:00:00 in Vietnam.
    simulator = new ProvinceSimulator({
      provinces: ['01'],
      dossiersPerProvince: 10,
      baseTime,
      sameUpdatedAt: true,
      paused: true,
    });
    const url = await simulator.start();
    const count = async (since: string) =>
      (await fetchDvcPage(`${url}/dvc/v2/records?province=01&since=${since}`)).records.length;

    expect(await count('20260301095959')).toBe(10);
    expect(await count('20260301100000')).toBe(10);
    expect(await count('20260301100001')).toBe(0);
  });

  it('lets the cursor take precedence over since', async () => {
    simulator = new ProvinceSimulator({ provinces: ['01'], dossiersPerProvince: 50, baseTime, paused: true });
    const url = await simulator.start();
    const first = await fetchDvcPage(`${url}/dvc/v2/records?province=01&limit=20`);

    const withFutureSince = await fetchDvcPage(
      `${url}/dvc/v2/records?province=01&limit=20&since=20991231000000&cursor=${first.next_cursor}`,
    );
    const withoutSince = await fetchDvcPage(`${url}/dvc/v2/records?province=01&limit=20&cursor=${first.next_cursor}`);

    expect(withFutureSince.records).toHaveLength(20);
    expect(withFutureSince.records).toEqual(withoutSince.records);
  });

  it('serves 100 records by default; the last page has next_cursor null and no Link header', async () => {
    simulator = new ProvinceSimulator({ provinces: ['01'], dossiersPerProvince: 150, baseTime, paused: true });
    const url = await simulator.start();

    const first = await fetchDvcPage(`${url}/dvc/v2/records?province=01`);
    const last = await fetchDvcPage(`${url}/dvc/v2/records?province=01&cursor=${first.next_cursor}`);

    expect(first.records).toHaveLength(100);
    expect(first.next_cursor).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(first.link).toBe(`<${url}/dvc/v2/records?province=01&limit=100&cursor=${first.next_cursor}>; rel="next"`);
    expect(last.records).toHaveLength(50);
    expect(last.next_cursor).toBeNull();
    expect(last.link).toBeNull();
  });

  it.each([
    ['no province', {}],
    ['a province this simulator does not serve', { province: '48' }],
    ['limit 0', { province: '01', limit: '0' }],
    ['limit above 1000', { province: '01', limit: '1001' }],
    ['a since that is not a date', { province: '01', since: '20260231250000' }],
    ['a since in ISO format', { province: '01', since: '2026-03-01T10:00:00' }],
    ['a cursor it never issued', { province: '01', cursor: 'bm90LWEtY3Vyc29y' }],
    ['a cursor that is not base64url', { province: '01', cursor: 'a+b/c=' }],
  ])('answers 400 with a message for %s', async (_case, query) => {
    simulator = new ProvinceSimulator({ provinces: ['01', '79'], dossiersPerProvince: 5, baseTime, paused: true });
    const url = await simulator.start();

    const response = await requestDvc(url, query);

    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({ message: expect.any(String) });
  });

  it('refuses a cursor issued for another province', async () => {
    simulator = new ProvinceSimulator({ provinces: ['01', '79'], dossiersPerProvince: 5, baseTime, paused: true });
    const url = await simulator.start();
    const { next_cursor: cursor } = await fetchDvcPage(`${url}/dvc/v2/records?province=79&limit=2`);

    const response = await requestDvc(url, { province: '01', cursor: cursor ?? '' });

    expect(response.status).toBe(400);
  });
});
