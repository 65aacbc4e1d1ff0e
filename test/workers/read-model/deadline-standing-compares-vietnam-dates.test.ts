import { describe, expect, it } from 'vitest';
import { deadlineStanding, vietnamDate, waitingTime } from '../../../workers/read-model/deadline-standing.js';

const at = (iso: string) => new Date(iso);
const finished = (finishedAt: string, dueAt: string | null) =>
  ({ status: 9, dueAt: dueAt ? at(dueAt) : null, finishedAt: at(finishedAt), returnedAt: null }) as const;
const now = at('2026-03-10T05:00:00Z');

describe('deadline standing', () => {
  it('compares calendar dates in Vietnam time, not instants', () => {
    // 23:30 on 1 March in Vietnam is 16:30Z; the due date is 1 March in Vietnam (17:00Z on 28 Feb is 00:00 on 1 March).
    expect(deadlineStanding(finished('2026-03-01T16:30:00Z', '2026-02-28T17:00:00Z'), now)).toBe('on_time');
    // 00:10 on 2 March in Vietnam (17:10Z on 1 March) is a day late, though only 40 minutes after the due date's end.
    expect(deadlineStanding(finished('2026-03-01T17:10:00Z', '2026-02-28T17:00:00Z'), now)).toBe('late');
    expect(deadlineStanding(finished('2026-02-28T16:59:00Z', '2026-02-28T17:00:00Z'), now)).toBe('early');
    expect(vietnamDate(at('2026-02-28T17:00:00Z'))).toBe('2026-03-01');
  });

  it('counts a finished dossier with no due date, or no finish time, as on time', () => {
    expect(deadlineStanding(finished('2026-03-01T00:00:00Z', null), now)).toBe('on_time');
    expect(
      deadlineStanding({ status: 10, dueAt: at('2026-03-01T00:00:00Z'), finishedAt: null, returnedAt: null }, now),
    ).toBe('on_time');
    expect(
      deadlineStanding(
        { status: 10, dueAt: at('2026-03-01T00:00:00Z'), finishedAt: null, returnedAt: at('2026-03-05T00:00:00Z') },
        now,
      ),
    ).toBe('late');
  });

  it('is overdue in progress once the due date is before today, and not for closed statuses', () => {
    const open = (status: 2 | 4 | 5 | 6 | 1 | 3 | 7 | 8, dueAt: string) =>
      deadlineStanding({ status, dueAt: at(dueAt), finishedAt: null, returnedAt: null }, now);
    expect(open(4, '2026-03-09T00:00:00Z')).toBe('overdue_in_progress');
    expect(open(5, '2026-03-09T16:59:00Z')).toBe('overdue_in_progress');
    expect(open(2, '2026-03-09T17:00:00Z')).toBe('in_progress'); // due today in Vietnam
    for (const status of [1, 3, 7, 8] as const) expect(open(status, '2026-01-01T00:00:00Z')).toBe('not_applicable');
  });

  it('takes the time waiting on the applicant out before comparing', () => {
    const history = [
      { status: 4, sourceUpdatedAt: at('2026-03-01T01:00:00Z') },
      { status: 5, sourceUpdatedAt: at('2026-03-02T01:00:00Z') },
      { status: 4, sourceUpdatedAt: at('2026-03-05T01:00:00Z') },
      { status: 9, sourceUpdatedAt: at('2026-03-06T01:00:00Z') },
    ] as const;
    const waiting = waitingTime(history, now);
    expect(waiting).toBe(3 * 86_400_000);
    const dossier = finished('2026-03-06T01:00:00Z', '2026-03-04T01:00:00Z');
    expect(deadlineStanding(dossier, now)).toBe('late');
    expect(deadlineStanding(dossier, now, waiting)).toBe('early');
  });
});
