import type { z } from 'zod';
import { dossierStatuses, type DossierStatus } from '../../../connectors/sdk/dossier-status.js';
import { currentProvince } from '../../../config/provinces.js';
import type { StoredDossier } from '../../../db/queries/find-dossier.js';
import type { DossierSummaryRow } from '../../../db/queries/list-dossiers.js';
import {
  deadlineStanding,
  finishedStatuses,
  finishTime,
  inProgressStatuses,
  vietnamDate,
  waitingStatuses,
  waitingTime,
  type DeadlineInputs,
} from '../../read-model/deadline-standing.js';
import { statusOf, type dossierBody, type dossierSummaryBody } from './dossier-schemas.js';

/** The lookup's answer. */
export type DossierView = z.output<typeof dossierBody>;
/** A feed item. */
export type DossierSummaryView = z.output<typeof dossierSummaryBody>;

const iso = (value: Date | null) => (value === null ? null : value.toISOString());

/** A feed row as the feed lists it. */
export function dossierSummaryView(row: DossierSummaryRow): DossierSummaryView {
  return {
    provinceCode: row.provinceCode,
    dossierCode: row.dossierCode,
    altDossierCode: row.altDossierCode,
    sourceProvinceCode: row.sourceProvinceCode,
    sourceCodeSet: row.sourceCodeSet as '2025' | '2008',
    procedureCode: row.procedureCode,
    sectorCode: row.sectorCode,
    agencyCode: row.agencyCode,
    channel: row.channel,
    status: statusOf(row.status),
    submittedAt: iso(row.submittedAt),
    receivedAt: iso(row.receivedAt),
    dueAt: iso(row.dueAt),
    finishedAt: iso(row.finishedAt),
    returnedAt: iso(row.returnedAt),
    rejectedAt: iso(row.rejectedAt),
    sourceUpdatedAt: row.sourceUpdatedAt.toISOString(),
    sourceVersion: Number(row.sourceVersion),
    syncedAt: row.syncedAt,
  };
}

/**
 * The lookup's answer for a stored dossier at `now`. Everything in it follows from the row, its history and, for a
 * dossier in progress, the Vietnam dates it is judged on — which the answer shows — so equal answers are equal
 * text, and the ETag can be a digest of the text.
 */
export function dossierView(stored: StoredDossier, now: Date): DossierView {
  const syncedAt = new Date(stored.syncedAt);
  return {
    provinceCode: stored.provinceCode,
    provinceName: currentProvince(stored.provinceCode)?.name ?? stored.provinceCode,
    dossierCode: stored.dossierCode,
    altDossierCode: stored.altDossierCode,
    sourceProvinceCode: stored.sourceProvinceCode,
    sourceCodeSet: stored.sourceCodeSet as '2025' | '2008',
    procedureCode: stored.procedureCode,
    sectorCode: stored.sectorCode,
    agencyCode: stored.agencyCode,
    channel: stored.channel,
    applicantType: stored.applicantType,
    status: statusOf(stored.status),
    sourceStatus: stored.sourceStatus,
    submittedAt: iso(stored.submittedAt),
    receivedAt: iso(stored.receivedAt),
    dueAt: iso(stored.dueAt),
    finishedAt: iso(stored.finishedAt),
    returnedAt: iso(stored.returnedAt),
    rejectedAt: iso(stored.rejectedAt),
    sourceUpdatedAt: stored.sourceUpdatedAt.toISOString(),
    sourceVersion: Number(stored.sourceVersion),
    syncedAt: stored.syncedAt,
    freshness: {
      sourceUpdatedAt: stored.sourceUpdatedAt.toISOString(),
      syncedAt: stored.syncedAt,
      lagSeconds: (syncedAt.getTime() - stored.sourceUpdatedAt.getTime()) / 1000,
    },
    deadline: deadlineView(stored, now),
    history: stored.history.map((state) => ({
      status: statusOf(state.status),
      sourceVersion: Number(state.sourceVersion),
      sourceUpdatedAt: state.sourceUpdatedAt.toISOString(),
      observedAt: state.observedAt.toISOString(),
      recordedAt: state.recordedAt.toISOString(),
      dueAt: iso(state.dueAt),
      finishedAt: iso(state.finishedAt),
    })),
  };
}

const datesInVietnam = 'calendar dates in Vietnam (UTC+7)';

/** The deadline standing with the inputs that decided it, with and without the applicant's waiting time. */
function deadlineView(stored: StoredDossier, now: Date): DossierView['deadline'] {
  const status = stored.status as DossierStatus;
  const inputs: DeadlineInputs = {
    status,
    dueAt: stored.dueAt,
    finishedAt: stored.finishedAt,
    returnedAt: stored.returnedAt,
  };
  const finished = finishedStatuses.includes(status);
  const inProgress = inProgressStatuses.includes(status);
  const finish = finishTime(inputs);
  const until = finished && finish !== null && finish < now ? finish : now;

  // The same order waitingTime counts in: a wait is open when the last state (by source time) is one.
  const states = stored.history.map((state) => ({
    status: state.status as DossierStatus,
    sourceUpdatedAt: state.sourceUpdatedAt,
  }));
  const waitedMs = waitingTime(states, until);
  const last = [...states].sort((a, b) => a.sourceUpdatedAt.getTime() - b.sourceUpdatedAt.getTime()).at(-1);
  const open = !finished && last !== undefined && waitingStatuses.includes(last.status);
  const openMs = open ? Math.max(0, until.getTime() - last.sourceUpdatedAt.getTime()) : 0;

  const compared = finished ? finish : inProgress ? now : null;
  return {
    standing: deadlineStanding(inputs, now),
    rule: ruleOf(status),
    status,
    dueDate: stored.dueAt === null ? null : vietnamDate(stored.dueAt),
    finishDate: finished && finish !== null ? vietnamDate(finish) : null,
    today: inProgress ? vietnamDate(now) : null,
    standingWithoutApplicantWaiting: deadlineStanding(inputs, now, waitedMs),
    applicantWaitingSeconds: Math.floor((waitedMs - openMs) / 1000),
    waitingOnApplicantSince: open ? last.sourceUpdatedAt.toISOString() : null,
    dateWithoutApplicantWaiting: compared === null ? null : vietnamDate(new Date(compared.getTime() - waitedMs)),
  };
}

function ruleOf(status: DossierStatus): string {
  if (finishedStatuses.includes(status))
    return `finished (status 9, 10): early if the finish date (finishedAt, else returnedAt) is before the due date, on time on it or with no due date or finish time, late after it; ${datesInVietnam}`;
  if (inProgressStatuses.includes(status))
    return `in progress (status 2, 4, 5, 6): overdue once the due date is before today; ${datesInVietnam}`;
  return `status ${status} (${dossierStatuses[status].group}) is not judged against a due date`;
}
