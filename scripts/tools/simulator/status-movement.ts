import { type DossierStatus } from '../../../connectors/sdk/dossier-status.js';
import { day, hour, minute, truncateTo, vietnamDayStart } from './business-calendar.js';
import type { Random } from './seeded-random.js';
import type { SimulatedDossier } from './simulated-dossier.js';

type Choices = readonly (readonly [DossierStatus, number])[];

/**
 * Which status follows which, and how often: our estimate of a typical one-stop-shop, where most dossiers go
 * 1→2→4→9→10, some loop through supplement (5) or fee (6) requests, and a few are refused, withdrawn or
 * stopped. Only transitions listed in shared/domain.md appear (a test holds the table to it); a status
 * without an entry is final.
 */
export const nextStatusWeights: Readonly<Partial<Record<DossierStatus, Choices>>> = {
  1: [
    [2, 60],
    [4, 30],
    [3, 7],
    [7, 3],
  ],
  2: [
    [4, 85],
    [5, 5],
    [6, 2],
    [9, 3],
    [7, 3],
    [8, 2],
  ],
  4: [
    [9, 60],
    [5, 20],
    [6, 10],
    [7, 5],
    [8, 5],
  ],
  5: [
    [4, 60],
    [2, 20],
    [6, 5],
    [9, 2],
    [7, 10],
    [8, 3],
  ],
  6: [
    [4, 80],
    [9, 10],
    [7, 5],
    [8, 5],
  ],
  8: [[4, 100]],
  9: [
    [10, 90],
    [4, 10],
  ],
};

/** True when no further status can follow (3 refused, 7 withdrawn, 10 returned). */
export function isFinal(status: DossierStatus): boolean {
  return nextStatusWeights[status] === undefined;
}

/**
 * Moves a dossier one status step and sets the business dates that step implies. Business events happen
 * after the dossier's previous one and never after `horizon` (the simulated "now"), so no served date lies
 * in the future. Version and NgayCapNhat are the caller's business: they follow the wall clock, not this one.
 */
export function moveOneStep(dossier: SimulatedDossier, random: Random, horizon = Infinity): void {
  const choices = nextStatusWeights[dossier.status];
  if (!choices) throw new Error(`dossier ${dossier.code} is final (status ${dossier.status})`);
  const to = random.weighted(choices);
  const clock = dossier.lastEventAt;
  const candidate = to === 9 ? finishTime(dossier, random, clock) : clock + stepDelay(dossier, to, random);
  const at = Math.min(Math.max(truncateTo(candidate, 'second'), clock), Math.max(clock, horizon));

  if ((to === 2 || to === 4) && dossier.receivedAt === null) {
    // Receiving: the promised return date is a whole number of days away, at the end of the working day.
    dossier.receivedAt = at;
    dossier.dueAt = vietnamDayStart(at) + random.int(3, 15) * day + 17 * hour;
  } else if (to === 4 && dossier.status === 9) {
    dossier.finishedAt = null; // the result was recalled for more work; it gets a new finish date
  } else if (to === 5 && dossier.dueAt !== null && random.next() < 0.5) {
    // The clock stops while the applicant gathers papers, so the agency often pushes the due date back.
    dossier.dueAt += random.int(1, 7) * day;
  } else if (to === 3) {
    dossier.rejectedAt = at;
  } else if (to === 9) {
    dossier.finishedAt = at;
  } else if (to === 10) {
    dossier.returnedAt = at;
  }
  dossier.status = to;
  dossier.lastEventAt = at;
}

/** How long after the previous event a step happens: intake within days, the rest within hours to days. */
function stepDelay(dossier: SimulatedDossier, to: DossierStatus, random: Random): number {
  if ((to === 2 || to === 4) && dossier.receivedAt === null) return random.between(10 * minute, 2 * day);
  if (to === 2 || to === 4) return random.between(30 * minute, 5 * day);
  if (to === 3) return random.between(10 * minute, 2 * day);
  if (to === 10) return random.between(10 * minute, 3 * day);
  return random.between(hour, 3 * day);
}

const finishOutcomes = [
  ['early', 55],
  ['on_time', 30],
  ['late', 15],
] as const;

/** A finish time that is early, on the due day or late in roughly the proportions dashboards show. */
function finishTime(dossier: SimulatedDossier, random: Random, clock: number): number {
  if (dossier.dueAt === null) return clock + random.between(hour, 3 * day);
  const dueDay = vietnamDayStart(dossier.dueAt);
  const outcome = random.weighted(finishOutcomes);
  if (outcome === 'early' && dueDay > clock) return random.between(clock, dueDay);
  const lateDays = outcome === 'late' ? random.int(1, 5) : 0;
  return dueDay + lateDays * day + random.between(8 * hour, 17 * hour); // within working hours
}
