import { describe, expect, it } from 'vitest';
import { compareCursor, CursorIndex } from '../../../../scripts/tools/simulator/cursor-index.js';
import { generateProvinceDossiers } from '../../../../scripts/tools/simulator/dossier-generator.js';
import { seededRandom } from '../../../../scripts/tools/simulator/seeded-random.js';

describe('CursorIndex', () => {
  it('pages exactly like a full sort would, after updates that move dossiers backwards, forwards and into ties', () => {
    const dossiers = generateProvinceDossiers('01', 5000, {
      seed: 3,
      baseTime: new Date('2026-03-01T03:00:00Z'),
      updatedAtPrecision: 'second',
      sameUpdatedAt: false,
      malformedRate: 0,
    });
    const index = new CursorIndex(dossiers);
    const random = seededRandom(99);
    const someStamps = dossiers.slice(0, 50).map((dossier) => dossier.updatedAt);

    for (let change = 0; change < 20_000; change++) {
      const dossier = random.pick(dossiers);
      // Mostly re-stamp onto an existing instant (ties), sometimes far into the past or future.
      index.update(dossier, () => {
        dossier.updatedAt = random.next() < 0.7 ? random.pick(someStamps) : dossier.updatedAt + random.int(-1e9, 1e9);
      });
    }

    const expected = [...dossiers].sort(compareCursor);
    const served = [];
    let cursor = { updatedSince: null as number | null, afterCode: null as string | null };
    for (;;) {
      const page = index.page(cursor, 333);
      served.push(...page.dossiers);
      const last = page.dossiers.at(-1);
      if (last) cursor = { updatedSince: last.updatedAt, afterCode: last.code };
      if (!page.hasMore) break;
    }
    expect(served).toEqual(expected);

    const pivot = expected[2500];
    if (!pivot) throw new Error('expected 5000 dossiers');
    const inclusive = index.page({ updatedSince: pivot.updatedAt, afterCode: null }, 5000).dossiers;
    expect(inclusive).toEqual(expected.filter((dossier) => dossier.updatedAt >= pivot.updatedAt));
  });

  it('serves an empty page, with nothing more, for a province without dossiers', () => {
    expect(new CursorIndex([]).page({ updatedSince: null, afterCode: null }, 10)).toEqual({
      dossiers: [],
      hasMore: false,
    });
  });
});
