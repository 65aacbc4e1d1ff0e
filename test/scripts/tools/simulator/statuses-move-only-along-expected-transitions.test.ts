import { afterEach, describe, expect, it } from 'vitest';
import { expectedTransitions, type DossierStatus } from '../../../../connectors/sdk/dossier-status.js';
import { ProvinceSimulator, type TruthRow } from '../../../../scripts/tools/simulator/province-simulator.js';
import { nextStatusWeights } from '../../../../scripts/tools/simulator/status-movement.js';
import { readAllPages } from './portal-client.js';

const baseTime = new Date('2026-03-01T03:00:00Z');
let simulator: ProvinceSimulator | undefined;
afterEach(() => simulator?.stop());

const finalStatuses = [3, 7, 10];

function snapshot(simulator: ProvinceSimulator): Map<string, TruthRow> {
  return new Map([...simulator.truth()].map((row) => [`${row.provinceCode}/${row.dossierCode}`, row]));
}

describe('status movement', () => {
  it('only ever plans transitions listed in shared/domain.md, and none out of 3, 7 or 10', () => {
    for (const [from, choices] of Object.entries(nextStatusWeights)) {
      const allowed = expectedTransitions[Number(from) as DossierStatus];
      for (const [to] of choices ?? []) expect(allowed, `${from}→${to}`).toContain(to);
    }
    for (const status of finalStatuses) expect(nextStatusWeights[status as DossierStatus]).toBeUndefined();
  });

  it('moves one dossier one expected step per change, bumping its version and never turning its NgayCapNhat back', () => {
    simulator = new ProvinceSimulator({ provinces: ['01', '79'], dossiersPerProvince: 150, baseTime, paused: true });
    let before = snapshot(simulator);
    const seenTransitions = new Set<string>();

    for (let change = 0; change < 1500; change++) {
      if (simulator.advance(1) === 0) break; // everything reached a final status
      const after = snapshot(simulator);
      const moved = [...after.values()].filter(
        (row) => row.version !== before.get(`${row.provinceCode}/${row.dossierCode}`)?.version,
      );
      expect(moved).toHaveLength(1);
      const [now] = moved as [TruthRow];
      const previous = before.get(`${now.provinceCode}/${now.dossierCode}`) as TruthRow;

      expect(expectedTransitions[previous.status as DossierStatus]).toContain(now.status);
      expect(now.version).toBe(previous.version + 1);
      expect(Date.parse(now.updatedAt)).toBeGreaterThanOrEqual(Date.parse(previous.updatedAt));
      seenTransitions.add(`${previous.status}→${now.status}`);
      before = after;
    }

    // The common path and its loops all happen, not just one lucky transition.
    for (const transition of ['1→2', '2→4', '4→5', '5→4', '4→9', '9→10']) expect(seenTransitions).toContain(transition);
  });

  it('never turns NgayCapNhat back, even when baseTime is ahead of the wall clock', () => {
    simulator = new ProvinceSimulator({
      provinces: ['01'],
      dossiersPerProvince: 300,
      baseTime: new Date(Date.now() + 86_400_000),
      paused: true,
    });
    const before = snapshot(simulator);

    simulator.advance(500);

    for (const row of simulator.truth()) {
      const previous = before.get(`01/${row.dossierCode}`) as TruthRow;
      expect(Date.parse(row.updatedAt)).toBeGreaterThanOrEqual(Date.parse(previous.updatedAt));
    }
  });

  it('never moves a dossier that has reached 3, 7 or 10', () => {
    simulator = new ProvinceSimulator({ provinces: ['01'], dossiersPerProvince: 400, baseTime, paused: true });
    const finalBefore = [...simulator.truth()].filter((row) => finalStatuses.includes(row.status));
    expect(finalBefore.length).toBeGreaterThan(0);

    simulator.advance(2000);

    const now = snapshot(simulator);
    for (const row of finalBefore) expect(now.get(`01/${row.dossierCode}`)).toEqual(row);
  });

  it('stops changing once every dossier is final', () => {
    simulator = new ProvinceSimulator({ provinces: ['01'], dossiersPerProvince: 20, baseTime, paused: true });
    let total = 0;
    for (let moved = simulator.advance(100); moved > 0; moved = simulator.advance(100)) total += moved;

    expect(total).toBeGreaterThan(0);
    expect([...simulator.truth()].every((row) => finalStatuses.includes(row.status))).toBe(true);
    expect(simulator.advance(10)).toBe(0);
  });

  it('serves the moved status and version to a consumer reading over HTTP', async () => {
    simulator = new ProvinceSimulator({ provinces: ['01'], dossiersPerProvince: 200, baseTime, paused: true });
    const url = await simulator.start();
    const before = new Map((await readAllPages(url, '01', 1000)).items.map((item) => [item.MaHoSo, item]));

    simulator.advance(300);

    for (const item of (await readAllPages(url, '01', 1000)).items) {
      const previous = before.get(item.MaHoSo);
      if (!previous || previous.PhienBan === item.PhienBan) continue;
      const from = Number(previous.TrangThaiHoSo) as DossierStatus;
      const to = Number(item.TrangThaiHoSo) as DossierStatus;
      // Several steps may have happened between the two reads: the new status must be reachable.
      expect(reachable(from, item.PhienBan - previous.PhienBan)).toContain(to);
    }
  });
});

/** Statuses reachable from `from` in exactly `steps` expected transitions. */
function reachable(from: DossierStatus, steps: number): Set<DossierStatus> {
  let current = new Set<DossierStatus>([from]);
  for (let step = 0; step < steps; step++) {
    current = new Set([...current].flatMap((status) => expectedTransitions[status]));
  }
  return current;
}
