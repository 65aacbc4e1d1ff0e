import type { DossierStatus } from '../../connectors/sdk/dossier-status.js';
import { vietnamOffsetMinutes } from '../../connectors/sdk/dates.js';

// The deadline standing of domain.md ("On time, early, late"), the one rule the dossier lookup answers with and the
// statistics count by (db/queries/province-stats SQL follows it; a test holds the two together).

/** Where a dossier stands against its due date. */
export type DeadlineStanding = 'early' | 'on_time' | 'late' | 'overdue_in_progress' | 'in_progress' | 'not_applicable';

/** What the standing is decided from. */
export interface DeadlineInputs {
  status: DossierStatus;
  dueAt: Date | null;
  finishedAt: Date | null;
  /** When the result was handed over: the finish time of a dossier returned (10) without a finish time of its own. */
  returnedAt: Date | null;
}

/** Statuses a dossier is still being processed in (domain.md: "not finished (status 2, 4, 5, 6)"). */
export const inProgressStatuses: readonly DossierStatus[] = [2, 4, 5, 6];
/** Statuses a dossier is finished in: the on-time rate's denominator. */
export const finishedStatuses: readonly DossierStatus[] = [9, 10];
/** Statuses in which the administration waits on the applicant (a supplement, fees). */
export const waitingStatuses: readonly DossierStatus[] = [5, 6];

/** The calendar date in Vietnam (UTC+7) of an instant, as `yyyy-MM-dd`: domain.md compares dates, not times. */
export function vietnamDate(instant: Date): string {
  return new Date(instant.getTime() + vietnamOffsetMinutes * 60_000).toISOString().slice(0, 10);
}

/** The time a finished dossier finished at: its finish time, else when its result was returned. */
export function finishTime(inputs: DeadlineInputs): Date | null {
  return inputs.finishedAt ?? inputs.returnedAt;
}

/**
 * The standing by domain.md's rules, comparing Vietnam calendar dates: a finished dossier (9, 10) is early before its
 * due date, on time on it (or with no due date, or no finish time to compare), late after it; a dossier in progress
 * (2, 4, 5, 6) is overdue once its due date is before today; any other status (1, 3, 7, 8) is not judged.
 *
 * `waitingMs` is time spent waiting on the applicant, taken out of the processing time (the index's treatment of
 * supplement requests): the finish, or today, is moved back by it before the dates are compared.
 */
export function deadlineStanding(inputs: DeadlineInputs, now: Date, waitingMs = 0): DeadlineStanding {
  if (finishedStatuses.includes(inputs.status)) {
    const finished = finishTime(inputs);
    if (inputs.dueAt === null || finished === null) return 'on_time';
    const finishDate = vietnamDate(new Date(finished.getTime() - waitingMs));
    const dueDate = vietnamDate(inputs.dueAt);
    return finishDate < dueDate ? 'early' : finishDate === dueDate ? 'on_time' : 'late';
  }
  if (inProgressStatuses.includes(inputs.status)) {
    if (inputs.dueAt === null) return 'in_progress';
    return vietnamDate(inputs.dueAt) < vietnamDate(new Date(now.getTime() - waitingMs))
      ? 'overdue_in_progress'
      : 'in_progress';
  }
  return 'not_applicable';
}

/** One state of a dossier's history: its status and when the source says it began. */
export interface HistoryState {
  status: DossierStatus;
  sourceUpdatedAt: Date;
}

/**
 * Time spent waiting on the applicant: from each state in status 5 or 6 to the next state of the history (by source
 * update time), or to `until` for the last one. States of the same time count once.
 */
export function waitingTime(history: readonly HistoryState[], until: Date): number {
  const states = [...history].sort((a, b) => a.sourceUpdatedAt.getTime() - b.sourceUpdatedAt.getTime());
  let total = 0;
  states.forEach((state, index) => {
    if (!waitingStatuses.includes(state.status)) return;
    const end = states[index + 1]?.sourceUpdatedAt ?? until;
    total += Math.max(0, end.getTime() - state.sourceUpdatedAt.getTime());
  });
  return total;
}
