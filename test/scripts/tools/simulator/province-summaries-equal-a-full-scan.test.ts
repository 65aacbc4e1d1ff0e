import { describe, expect, it } from 'vitest';
import { digestOf } from '../../../../connectors/sdk/summary-hash.js';
import { compareCursor, CursorIndex } from '../../../../scripts/tools/simulator/cursor-index.js';
import { generateProvinceDossiers } from '../../../../scripts/tools/simulator/dossier-generator.js';
import {
  ProvinceSummaries,
  summaryEntry,
  type SimulatorScope,
} from '../../../../scripts/tools/simulator/province-summaries.js';
import { seededRandom } from '../../../../scripts/tools/simulator/seeded-random.js';
import type { SimulatedDossier } from '../../../../scripts/tools/simulator/simulated-dossier.js';

// The kept run sums and code orders are shortcuts: whatever the scope, and however the index changed since they
// were kept, a summary must equal the one a full scan of every dossier gives.
describe('ProvinceSummaries', () => {
  it('equals a full scan for random scopes, with and without code bounds, across changes to the index', () => {
    const dossiers = generateProvinceDossiers('79', 6000, {
      seed: 3,
      baseTime: new Date('2026-03-01T03:00:00Z'),
      updatedAtPrecision: 'second',
      sameUpdatedAt: false,
      malformedRate: 0,
    });
    const index = new CursorIndex(dossiers);
    const summaries = new ProvinceSummaries(index);
    const random = seededRandom(11);
    const codes = dossiers.map((dossier) => dossier.code).sort();
    const times = dossiers.map((dossier) => dossier.updatedAt);
    const [earliest, latest] = [Math.min(...times), Math.max(...times)];
    const scan = (scope: SimulatorScope) =>
      [...dossiers]
        .sort(compareCursor)
        .filter(
          (dossier: SimulatedDossier) =>
            dossier.updatedAt >= scope.updatedFrom &&
            dossier.updatedAt < scope.updatedTo &&
            (scope.codeFrom === null || dossier.code >= scope.codeFrom) &&
            (scope.codeTo === null || dossier.code < scope.codeTo),
        )
        .map(summaryEntry);

    for (let round = 0; round < 6; round++) {
      for (let attempt = 0; attempt < 40; attempt++) {
        const a = random.int(earliest - 1000, latest + 1000);
        const b = random.int(earliest - 1000, latest + 1000);
        const code = () => (random.next() < 0.4 ? null : random.pick(codes));
        let [codeFrom, codeTo] = [code(), code()];
        if (codeFrom !== null && codeTo !== null && codeFrom > codeTo) [codeFrom, codeTo] = [codeTo, codeFrom];
        const scope = { updatedFrom: Math.min(a, b), updatedTo: Math.max(a, b), codeFrom, codeTo };
        const expected = scan(scope);
        expect(summaries.digest(scope), JSON.stringify(scope)).toEqual(digestOf(expected));
        if (expected.length <= 10_000) expect(summaries.listing(scope)).toEqual(expected);
      }
      // Moves, version bumps under the same time, and deletes: runs split, shrink and change revision.
      for (let change = 0; change < 700; change++) {
        const dossier = random.pick(dossiers);
        index.update(dossier, () => {
          if (random.next() < 0.5) dossier.updatedAt += random.int(-5e8, 5e8);
          dossier.version += 1;
        });
      }
      for (let deleted = 0; deleted < 50; deleted++) {
        const [dossier] = dossiers.splice(random.int(0, dossiers.length - 1), 1);
        index.delete(dossier!);
      }
    }
  });
});
