import { sql } from 'kysely';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTestEnvironment, type TestEnvironment } from '../support/test-environment.js';

// domain.md, Transitions (our model): 1→{2,3,4,7} · 2→{4,5,6,7,8,9} · 4→{5,6,7,8,9} · 5→{2,4,6,7,8,9} ·
// 6→{4,7,8,9} · 8→{4} · 9→{10,4} · 3, 7, 10 are final. A repeat of the same status is an update, not a transition.
const transitions: Record<number, number[]> = {
  1: [2, 3, 4, 7],
  2: [4, 5, 6, 7, 8, 9],
  3: [],
  4: [5, 6, 7, 8, 9],
  5: [2, 4, 6, 7, 8, 9],
  6: [4, 7, 8, 9],
  7: [],
  8: [4],
  9: [10, 4],
  10: [],
};

let env: TestEnvironment;
beforeAll(async () => {
  env = await createTestEnvironment();
});
afterAll(async () => env?.cleanup());

it('status_transition_allowed(from, to) is domain.md’s transition table for all 10 × 10 pairs', async () => {
  const { rows } = await sql<{ from_status: number; to_status: number; allowed: boolean }>`
    SELECT f AS from_status, t AS to_status, status_transition_allowed(f, t) AS allowed
    FROM generate_series(1, 10) f, generate_series(1, 10) t
    ORDER BY f, t`.execute(env.db);
  const expected = [];
  for (let from = 1; from <= 10; from++)
    for (let to = 1; to <= 10; to++)
      expected.push({ from_status: from, to_status: to, allowed: from === to || transitions[from]!.includes(to) });
  expect(rows).toEqual(expected);
});
