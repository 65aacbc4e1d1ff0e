import { afterEach, describe, expect, it } from 'vitest';
import { formatVietnamTime } from '../../../../connectors/sdk/dates.js';
import {
  ProvinceSimulator,
  type DriftReport,
  type SimulatorOptions,
} from '../../../../scripts/tools/simulator/province-simulator.js';
import { fetchPage, fetchTruth, readAllPages, truthByCode } from './portal-client.js';

const baseTime = new Date('2026-03-01T03:00:00Z');
const options: SimulatorOptions = { provinces: ['01', '79'], dossiersPerProvince: 2000, baseTime, paused: true };
const whole = { province: '79', updatedFrom: '2026-01-01T00:00:00Z', updatedTo: '2027-01-01T00:00:00Z' };
let simulators: ProvinceSimulator[] = [];
afterEach(async () => {
  await Promise.all(simulators.map((simulator) => simulator.stop()));
  simulators = [];
});

async function started(settings: SimulatorOptions = options): Promise<{ simulator: ProvinceSimulator; url: string }> {
  const simulator = new ProvinceSimulator(settings);
  simulators.push(simulator);
  return { simulator, url: await simulator.start() };
}

async function digest(url: string): Promise<{ count: number; hash: string }> {
  return (await (await fetch(`${url}/api/dossiers/summary?${new URLSearchParams(whole)}`)).json()) as {
    count: number;
    hash: string;
  };
}

async function byCode(url: string, codes: string[]): Promise<unknown[]> {
  const query = new URLSearchParams({ province: '79', codes: codes.join(',') });
  return ((await (await fetch(`${url}/api/dossiers/by-code?${query}`)).json()) as { items: unknown[] }).items;
}

/** Where each touched dossier was in the province's update-time order before the drift, as fractions of it. */
function spreadOf(report: DriftReport, orderBefore: string[]): number[] {
  return report.dossierCodes.map((code) => orderBefore.indexOf(code) / orderBefore.length).sort((a, b) => a - b);
}

describe('drift on command', () => {
  it('silent-change: a new state and version under the same update time, which an updated-since read misses', async () => {
    const { simulator, url } = await started();
    const orderBefore = (await readAllPages(url, '79', 5000)).items.map((item) => item.MaHoSo);
    const newest = (await fetchPage(url, { province: '79', limit: '5000' })).items.at(-1)!.NgayCapNhat;
    const before = await digest(url);

    const report = simulator.injectDrift('79', 'silent-change', { count: 20 });

    expect(report.dossierCodes).toHaveLength(20);
    expect(new Set(report.dossierCodes).size).toBe(20);
    const spread = spreadOf(report, orderBefore);
    expect(spread[0]).toBeLessThan(0.05);
    expect(spread.at(-1)).toBeGreaterThan(0.95);
    const truth = truthByCode(await fetchTruth(url), '79');
    for (const { dossierCode, before: was, after } of report.dossiers) {
      expect(after).toMatchObject({ version: was.version + 1, updatedAt: was.updatedAt });
      expect(truth.get(dossierCode)).toMatchObject({ version: was.version + 1, status: after!.status });
    }
    // What the pages serve changed, but nothing is newer than the newest update time before the drift.
    const since = await fetchPage(url, { province: '79', limit: '5000', updatedSince: newest, afterCode: '~' });
    expect(since.items).toEqual([]);
    const served = await byCode(url, report.dossierCodes);
    expect(served.map((item) => (item as { PhienBan: number }).PhienBan)).toEqual(
      report.dossiers.map((dossier) => dossier.after!.version),
    );
    const after = await digest(url);
    expect(after.count).toBe(before.count);
    expect(after.hash).not.toBe(before.hash);
  });

  it('delete: the dossiers are gone from the pages, fetch by code, the summary and the truth; movement goes on', async () => {
    const { simulator, url } = await started();
    const report = simulator.injectDrift('79', 'delete', { count: 15 });

    expect(report.dossiers.every((dossier) => dossier.after === null)).toBe(true);
    const truth = truthByCode(await fetchTruth(url), '79');
    expect(truth.size).toBe(1985);
    for (const code of report.dossierCodes) expect(truth.has(code)).toBe(false);
    const served = new Set((await readAllPages(url, '79', 5000)).items.map((item) => item.MaHoSo));
    expect(served.size).toBe(1985);
    for (const code of report.dossierCodes) expect(served.has(code)).toBe(false);
    expect(await byCode(url, report.dossierCodes)).toEqual([]);
    expect((await digest(url)).count).toBe(1985);
    expect(simulator.advance(3000)).toBeGreaterThan(0);
    expect(((await (await fetch(`${url}/_sim/health`)).json()) as { dossiers: number }).dossiers).toBe(3985);
  });

  it('rewrite-history: an older state, a lower version and an older update time, as a restored backup', async () => {
    const { simulator, url } = await started();
    simulator.advance(1500);
    const report = simulator.injectDrift('79', 'rewrite-history', { count: 25 });

    expect(report.dossierCodes).toHaveLength(25);
    const truth = truthByCode(await fetchTruth(url), '79');
    for (const { dossierCode, before, after } of report.dossiers) {
      expect(after!.version).toBe(Math.max(0, before.version - 1));
      expect(after!.version).toBeLessThan(before.version);
      expect(Date.parse(after!.updatedAt)).toBeLessThan(Date.parse(before.updatedAt));
      expect(truth.get(dossierCode)).toMatchObject(after!);
    }
    // Some went back a status step (a first status has none to go back to).
    expect(report.dossiers.some((dossier) => dossier.after!.status !== dossier.before.status)).toBe(true);
  });

  it('lost-push: a new state and version stamped before the poll look-back, and the records to push', async () => {
    const { simulator, url } = await started();
    const now = Date.now();
    const report = simulator.injectDrift('79', 'lost-push', { count: 12, lookbackSeconds: 600 });

    expect(report.dossierCodes).toHaveLength(12);
    expect(report.pushed).toEqual(await byCode(url, report.dossierCodes));
    for (const [position, { before, after }] of report.dossiers.entries()) {
      expect(after!.version).toBe(before.version + 1);
      expect(Date.parse(after!.updatedAt)).toBe(Date.parse(before.updatedAt) + 1000);
      expect(Date.parse(after!.updatedAt)).toBeLessThan(now - 600_000);
      expect(report.pushed[position]).toMatchObject({
        PhienBan: after!.version,
        TrangThaiHoSo: String(after!.status),
        NgayCapNhat: formatVietnamTime(new Date(after!.updatedAt)),
      });
    }
  });

  it('the same seed and the same drifts touch the same dossiers; POST /_sim/drift is the same as in-process', async () => {
    const one = await started();
    const two = await started();
    const inProcess = one.simulator.injectDrift('79', 'silent-change', { count: 30 });
    const response = await fetch(`${two.url}/_sim/drift`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ province: '79', kind: 'silent-change', count: 30 }),
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual(inProcess);
    expect(await fetchTruth(two.url)).toEqual(await fetchTruth(one.url));
  });

  it('POST /_sim/drift refuses a body it cannot act on, saying what it expects', async () => {
    const { url } = await started({ ...options, dossiersPerProvince: 10 });
    const post = async (body: unknown) => {
      const response = await fetch(`${url}/_sim/drift`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      return { status: response.status, message: ((await response.json()) as { message: string }).message };
    };
    expect(await post({ province: '79', kind: 'melt', count: 1 })).toEqual({
      status: 400,
      message: expect.stringMatching(/"melt" is not one of silent-change, delete, rewrite-history, lost-push/),
    });
    expect(await post({ province: '02', kind: 'delete', count: 1 })).toEqual({
      status: 400,
      message: expect.stringMatching(/province "02" is not served/),
    });
    expect(await post({ province: '79', kind: 'delete', count: 0 })).toEqual({
      status: 400,
      message: expect.stringMatching(/count must be a positive whole number/),
    });
    expect(await post({ kind: 'delete' })).toEqual({
      status: 400,
      message: expect.stringMatching(/expected a JSON body/),
    });
  });
});
