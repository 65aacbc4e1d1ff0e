import { z } from 'zod';
import { dossierStatuses, type DossierStatus } from '../../../connectors/sdk/dossier-status.js';

// The dossier shapes the read API answers with: one declaration each validates, serialises, types the handlers and
// is a component of the OpenAPI document. None has a field for the applicant (the canonical record has none).

/** The message for query parameters a route does not take (its query is strict: a misspelt filter is no filter). */
export function unknownParameters(keys: readonly string[], expected: readonly string[]): string {
  return `unknown parameter ${keys.map((key) => JSON.stringify(key)).join(', ')}; expected only ${expected.join(', ')}`;
}

const time = z.iso.datetime().describe('ISO 8601, UTC');
const nullableTime = time.nullable();

/** A national status code with its label (shared/domain.md, connectors/sdk/dossier-status.ts). */
export const dossierStatusBody = z
  .object({
    code: z.int().min(1).max(10).describe('national status code (TrangThaiHoSo), 1 to 10'),
    label: z.string().describe('the national list’s Vietnamese label, e.g. "Đang xử lý"'),
    meaning: z.string().describe('what it means, in English'),
    group: z.enum(['intake', 'in_progress', 'waiting_on_applicant', 'closed', 'done']),
  })
  .meta({ id: 'DossierStatus', description: 'a national dossier status with its label' });

/** The status object of a national code. */
export function statusOf(code: number): z.output<typeof dossierStatusBody> {
  const entry = dossierStatuses[code as DossierStatus];
  return { code, label: entry.vi, meaning: entry.meaning, group: entry.group };
}

const codeSet = z.enum(['2025', '2008']);

/** What a dossier and its feed summary share: the canonical fields. */
const canonicalFields = {
  provinceCode: z.string().describe('current (2025) province code the dossier is stored under'),
  dossierCode: z.string().describe('MaHoSo: unique within its province'),
  altDossierCode: z.string().nullable().describe('MaHoSoKhac: the code some systems rewrote the dossier to'),
  sourceProvinceCode: z
    .string()
    .describe('the province code the source gave: a former (2008) code for a dossier filed before the 2025 merger'),
  sourceCodeSet: codeSet.describe('the code set of sourceProvinceCode'),
  procedureCode: z.string().nullable().describe('MaTTHC, e.g. 2.000477'),
  sectorCode: z.string().nullable().describe('MaLinhVuc'),
  agencyCode: z.string().nullable().describe('DonViXuLy, e.g. 000.00.01.H22'),
  channel: z.int().nullable().describe('KenhThucHien: 1 in person, 2 online, 3 public post'),
  status: dossierStatusBody,
  submittedAt: nullableTime,
  receivedAt: nullableTime,
  dueAt: nullableTime.describe('NgayHenTra: the promised return date'),
  finishedAt: nullableTime,
  returnedAt: nullableTime.describe('NgayTra: result handed to the applicant'),
  rejectedAt: nullableTime,
  sourceUpdatedAt: time.describe('when the source last changed the dossier'),
  sourceVersion: z.int().min(0).describe('the source version that wrote this state'),
  syncedAt: time.describe('when the fleet stored this state, to the microsecond: the change feed’s order'),
};

/** One dossier in the change feed: its canonical summary. */
export const dossierSummaryBody = z
  .object(canonicalFields)
  .meta({ id: 'DossierSummary', description: 'a dossier’s current canonical state, as the change feed lists it' });

/** The names of a feed item's fields: all it may carry (a test holds the answers to this list). */
export const dossierSummaryFields = Object.keys(canonicalFields);

const standing = z.enum(['early', 'on_time', 'late', 'overdue_in_progress', 'in_progress', 'not_applicable']);
const vietnamDate = z.iso.date().describe('a calendar date in Vietnam (UTC+7)');

/** One distinct state of a dossier's history. */
export const dossierStateBody = z
  .object({
    status: dossierStatusBody,
    sourceVersion: z.int().min(0).describe('the source version of this state'),
    sourceUpdatedAt: time.describe('when the source says this state began'),
    observedAt: time.describe('when the fleet received it (poll or webhook)'),
    recordedAt: time.describe('when the fleet stored it in the history'),
    dueAt: nullableTime,
    finishedAt: nullableTime,
  })
  .meta({ id: 'DossierState', description: 'one distinct state of a dossier, kept once however often it arrived' });

const { provinceCode: _provinceCode, ...withoutProvinceCode } = canonicalFields;

/** One dossier, as the lookup answers. */
export const dossierBody = z
  .object({
    provinceCode: canonicalFields.provinceCode,
    provinceName: z.string().describe('the current province’s name'),
    ...withoutProvinceCode,
    applicantType: z.int().nullable().describe('LoaiDoiTuong: 1 citizen, 2 business, 3 state agency, 4 other'),
    sourceStatus: z.string().describe('the status as the province system gave it'),
    freshness: z
      .object({
        sourceUpdatedAt: time,
        syncedAt: time,
        lagSeconds: z
          .number()
          .describe(
            'syncedAt − sourceUpdatedAt in seconds: how late the copy got the change (negative when the source’s clock runs ahead)',
          ),
      })
      .describe('as of when the copy holds this state'),
    deadline: z
      .object({
        standing: standing.describe('domain.md, "On time, early, late", on Vietnam calendar dates'),
        rule: z.string().describe('the rule that decided it, in words'),
        status: z.int().describe('the national status the rule was applied to'),
        dueDate: vietnamDate.nullable().describe('the due date in Vietnam; null without one'),
        finishDate: vietnamDate
          .nullable()
          .describe('a finished dossier’s (9, 10) finish date in Vietnam: finishedAt, else returnedAt; null otherwise'),
        today: vietnamDate.nullable().describe('the date in Vietnam a dossier in progress (2, 4, 5, 6) was judged on'),
        standingWithoutApplicantWaiting: standing.describe(
          'the same rule with the time waiting on the applicant (statuses 5, 6, from the history) taken out, as the service-quality index treats supplement requests',
        ),
        applicantWaitingSeconds: z
          .int()
          .min(0)
          .describe('time spent in statuses 5 and 6, in waits that have ended (by the history’s source times)'),
        waitingOnApplicantSince: nullableTime.describe(
          'the start of a wait still going on (the dossier is in 5 or 6 now); it counts up to the time of asking',
        ),
        dateWithoutApplicantWaiting: vietnamDate
          .nullable()
          .describe(
            'finishDate or today moved back by all the waiting: the date compared with dueDate for that standing',
          ),
      })
      .describe('where the dossier stands against its due date, with the inputs that decided it'),
    history: z
      .array(dossierStateBody)
      .describe('every distinct state, in the order the writer ranks them: source version, then observation'),
  })
  .meta({
    id: 'Dossier',
    description: 'one dossier: its current canonical state, freshness, deadline standing and history',
  });

/** A page of the change feed. */
export const dossierFeedPageBody = z
  .object({
    items: z.array(dossierSummaryBody).describe('in (syncedAt, provinceCode, dossierCode) order'),
    nextCursor: z
      .string()
      .describe('always present: the feed has no end; send it back (with the same filters) for the next page'),
    hasMore: z.boolean().describe('whether more rows were already there: true → ask again at once; false → poll later'),
    horizon: time.describe('every change synced before it is in this page or an earlier one'),
  })
  .meta({ id: 'DossierFeedPage', description: 'a page of the change feed' });
