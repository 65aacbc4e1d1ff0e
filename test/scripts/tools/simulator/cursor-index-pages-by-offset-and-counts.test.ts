import { describe, expect, it } from 'vitest';
import { compareCursor, CursorIndex, type CursorStart } from '../../../../scripts/tools/simulator/cursor-index.js';
import { generateProvinceDossiers } from '../../../../scripts/tools/simulator/dossier-generator.js';
import { seededRandom } from '../../../../scripts/tools/simulator/seeded-random.js';
import type { SimulatedDossier } from '../../../../scripts/tools/simulator/simulated-dossier.js';

/** The cursor rule spelled out: at or after updatedSince, or strictly after (updatedSince, afterCode). */
function isAtOrAfterStart(dossier: SimulatedDossier, { updatedSince, afterCode }: CursorStart): boolean {
  if (updatedSince === null || dossier.updatedAt > updatedSince) return true;
  return dossier.updatedAt === updatedSince && (afterCode === null || dossier.code > afterCode);
}

// The vendor dialects that page by number (igate, lgsp-soap) skip into the index and report a total.
describe('CursorIndex offsets and counts', () => {
  it('skips and counts exactly like slicing a full sort would, across run boundaries and after updates', () => {
    const dossiers = generateProvinceDossiers('01', 4000, {
      seed: 5,
      baseTime: new Date('2026-03-01T03:00:00Z'),
      updatedAtPrecision: 'minute',
      sameUpdatedAt: false,
      malformedRate: 0,
    });
    const index = new CursorIndex(dossiers);
    const random = seededRandom(7);
    // Enough moves to split and empty runs, so skips cross uneven run lengths.
    for (let change = 0; change < 6000; change++) {
      const dossier = random.pick(dossiers);
      index.update(dossier, () => (dossier.updatedAt += random.int(-5e8, 5e8)));
    }
    const sorted = [...dossiers].sort(compareCursor);

    const starts: CursorStart[] = [{ updatedSince: null, afterCode: null }];
    for (const position of [0, 1, 511, 512, 1999, 3999]) {
      const at = sorted[position];
      if (!at) throw new Error('expected 4000 dossiers');
      starts.push({ updatedSince: at.updatedAt, afterCode: null }, { updatedSince: at.updatedAt, afterCode: at.code });
    }
    starts.push({ updatedSince: Number.MAX_SAFE_INTEGER, afterCode: null });

    for (const start of starts) {
      const from = sorted.filter((dossier) => isAtOrAfterStart(dossier, start));
      expect(index.countFrom(start)).toBe(from.length);
      for (const skip of [
        0,
        1,
        100,
        511,
        512,
        1023,
        2500,
        Math.max(0, from.length - 1),
        from.length,
        from.length + 10,
      ]) {
        const page = index.page(start, 150, skip);
        expect(page.dossiers).toEqual(from.slice(skip, skip + 150));
        expect(page.hasMore).toBe(skip + 150 < from.length);
      }
    }
  });

  it('counts nothing, and serves nothing at any offset, without dossiers', () => {
    const index = new CursorIndex([]);

    expect(index.countFrom({ updatedSince: null, afterCode: null })).toBe(0);
    expect(index.page({ updatedSince: null, afterCode: null }, 10, 5)).toEqual({ dossiers: [], hasMore: false });
  });
});
