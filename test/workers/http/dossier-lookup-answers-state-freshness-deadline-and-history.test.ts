import { cliActor } from '../../../workers/control-plane/audit.js';
import { sql } from 'kysely';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { DossierRecord } from '../../../connectors/sdk/dossier-record.js';
import type { DossierStatus } from '../../../connectors/sdk/dossier-status.js';
import { upsertDossiers } from '../../../db/queries/upsert-dossiers.js';
import { createApiKey } from '../../../workers/control-plane/api-key-store.js';
import type { DossierView } from '../../../workers/http/read/dossier-view.js';
import { startReadApi, testClock, type ReadApiServer } from '../../support/read-api.js';
import { dossierRecord } from '../../support/records.js';
import { createTestEnvironment, type TestEnvironment } from '../../support/test-environment.js';

// GET /v1/dossiers/{provinceCode}/{dossierCode} against a real server and Postgres: the canonical state with its
// national label, freshness, the deadline standing (with and without the applicant's waiting) on Vietnam dates, the
// history once per distinct state, a strong ETag that changes with the state and — in progress — with the date,
// former province codes redirected, and problems with their codes.

let env: TestEnvironment;
let api: ReadApiServer;
const clock = testClock('2026-12-01T05:00:00Z');

beforeAll(async () => {
  env = await createTestEnvironment();
  api = await startReadApi(env.db, { clock: clock.read });
});
afterAll(async () => {
  await api?.close();
  await env?.cleanup();
});
beforeEach(async () => {
  await sql`TRUNCATE dossiers, dossier_events`.execute(env.db);
  clock.set('2026-12-01T05:00:00Z');
});

const write = (...records: DossierRecord[]) => upsertDossiers(env.db, records);
const state = (overrides: Partial<DossierRecord>) =>
  dossierRecord({ dossierCode: 'HS-1', sourceStatus: String(overrides.status ?? 2), ...overrides });
const at = (status: DossierStatus, version: number, sourceUpdatedAt: string, extra: Partial<DossierRecord> = {}) =>
  state({ status, sourceVersion: version, sourceUpdatedAt, ...extra });

async function lookup(path: string, headers: Record<string, string> = {}) {
  const response = await api.get(path, headers);
  const text = await response.text();
  // A problem's fields are read off the same body in the problem tests.
  const body = (text === '' ? undefined : JSON.parse(text)) as DossierView & { detail: string; errors?: string[] };
  return { response, status: response.status, body, text };
}

async function expectProblem(path: string, status: number, code: string, detail: RegExp) {
  const { response, body } = await lookup(path);
  expect(response.status).toBe(status);
  expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(body).toMatchObject({ type: `urn:dossier-sync:problem:${code}`, status, code });
  expect(body.detail).toMatch(detail);
  return body;
}

describe('the dossier lookup', () => {
  it('answers the current canonical state with its national label, the codes, the dates and the province', async () => {
    await write(
      state({
        status: 4,
        sourceStatus: 'DANG_XU_LY',
        altDossierCode: 'HS-1-NEW',
        procedureCode: '2.000477',
        sectorCode: 'G09-TP',
        agencyCode: '000.00.01.H01',
        channel: 3,
        applicantType: 2,
        submittedAt: '2026-11-20T01:00:00.000Z',
        receivedAt: '2026-11-20T02:00:00.000Z',
        dueAt: '2026-12-10T10:00:00.000Z',
        sourceUpdatedAt: '2026-11-30T03:00:00.000Z',
        sourceVersion: 7,
      }),
    );
    const { status, body } = await lookup('/v1/dossiers/01/HS-1');
    expect(status).toBe(200);
    expect(body).toMatchObject({
      provinceCode: '01',
      provinceName: 'Hà Nội',
      dossierCode: 'HS-1',
      altDossierCode: 'HS-1-NEW',
      sourceProvinceCode: '01',
      sourceCodeSet: '2025',
      procedureCode: '2.000477',
      sectorCode: 'G09-TP',
      agencyCode: '000.00.01.H01',
      channel: 3,
      applicantType: 2,
      status: { code: 4, label: 'Đang xử lý', meaning: 'being processed', group: 'in_progress' },
      sourceStatus: 'DANG_XU_LY',
      submittedAt: '2026-11-20T01:00:00.000Z',
      receivedAt: '2026-11-20T02:00:00.000Z',
      dueAt: '2026-12-10T10:00:00.000Z',
      finishedAt: null,
      returnedAt: null,
      rejectedAt: null,
      sourceUpdatedAt: '2026-11-30T03:00:00.000Z',
      sourceVersion: 7,
    });
    // Nothing about the applicant: the answer holds exactly the documented fields.
    expect(Object.keys(body).sort()).toEqual(
      [
        'provinceCode',
        'provinceName',
        'dossierCode',
        'altDossierCode',
        'sourceProvinceCode',
        'sourceCodeSet',
        'procedureCode',
        'sectorCode',
        'agencyCode',
        'channel',
        'applicantType',
        'status',
        'sourceStatus',
        'submittedAt',
        'receivedAt',
        'dueAt',
        'finishedAt',
        'returnedAt',
        'rejectedAt',
        'sourceUpdatedAt',
        'sourceVersion',
        'syncedAt',
        'freshness',
        'deadline',
        'history',
      ].sort(),
    );
  });

  it('tells its freshness: source update, sync time to the microsecond, and the lag between them', async () => {
    await write(state({ status: 2, sourceUpdatedAt: '2026-12-01T02:59:00.000Z' }));
    await sql`UPDATE dossiers SET synced_at = '2026-12-01T03:00:30.123456Z'`.execute(env.db);
    const { body } = await lookup('/v1/dossiers/01/HS-1');
    expect(body.syncedAt).toBe('2026-12-01T03:00:30.123456Z');
    expect(body.freshness).toEqual({
      sourceUpdatedAt: '2026-12-01T02:59:00.000Z',
      syncedAt: '2026-12-01T03:00:30.123456Z',
      lagSeconds: 90.123,
    });
  });

  it('keeps each distinct state once in the history, late and repeated ones included, the current one last', async () => {
    await write(at(2, 1, '2026-11-20T02:00:00.000Z'));
    await write(at(4, 3, '2026-11-22T02:00:00.000Z'));
    // The same state again (a poll and a webhook racing), observed later: not a new state.
    await write(at(4, 3, '2026-11-22T02:00:00.000Z', { observedAt: '2026-11-28T00:00:00.000Z' }));
    // An older version arriving late: the row stays at version 3, the history gains the state it missed.
    await write(at(5, 2, '2026-11-21T02:00:00.000Z'));
    const { body } = await lookup('/v1/dossiers/01/HS-1');
    expect(body.status.code).toBe(4);
    expect(
      body.history.map((entry) => [entry.sourceVersion, entry.status.code, entry.status.label, entry.sourceUpdatedAt]),
    ).toEqual([
      [1, 2, 'Được tiếp nhận', '2026-11-20T02:00:00.000Z'],
      [2, 5, 'Yêu cầu bổ sung giấy tờ', '2026-11-21T02:00:00.000Z'],
      [3, 4, 'Đang xử lý', '2026-11-22T02:00:00.000Z'],
    ]);
    for (const entry of body.history) {
      expect(Object.keys(entry).sort()).toEqual(
        ['status', 'sourceVersion', 'sourceUpdatedAt', 'observedAt', 'recordedAt', 'dueAt', 'finishedAt'].sort(),
      );
      expect(entry.observedAt).toBe('2026-11-27T00:00:00.000Z');
      expect(Date.parse(entry.recordedAt)).not.toBeNaN();
    }
  });
});

describe('the deadline standing', () => {
  // Due 10:00Z on 10 December: 17:00 on 10 December in Vietnam.
  const dueAt = '2026-12-10T10:00:00.000Z';

  it('turns a dossier in progress overdue at midnight in Vietnam, not at midnight UTC, and says what it compared', async () => {
    await write(at(4, 1, '2026-12-01T02:00:00.000Z', { dueAt }));
    clock.set('2026-12-10T16:59:59Z'); // 23:59:59 on 10 December in Vietnam
    const before = await lookup('/v1/dossiers/01/HS-1');
    expect(before.body.deadline).toMatchObject({
      standing: 'in_progress',
      status: 4,
      dueDate: '2026-12-10',
      finishDate: null,
      today: '2026-12-10',
      standingWithoutApplicantWaiting: 'in_progress',
      applicantWaitingSeconds: 0,
      waitingOnApplicantSince: null,
      dateWithoutApplicantWaiting: '2026-12-10',
    });
    expect(before.body.deadline.rule).toMatch(/overdue once the due date is before today.*Vietnam/);

    clock.set('2026-12-10T17:00:00Z'); // 00:00 on 11 December in Vietnam; still 10 December in UTC
    const after = await lookup('/v1/dossiers/01/HS-1');
    expect(after.body.deadline).toMatchObject({ standing: 'overdue_in_progress', today: '2026-12-11' });
  });

  it('judges a finished dossier on its finish date in Vietnam: on time at 23:59, late one minute after midnight', async () => {
    await write(at(9, 1, '2026-12-10T16:59:00.000Z', { dueAt, finishedAt: '2026-12-10T16:59:00.000Z' }));
    clock.set('2027-01-15T00:00:00Z');
    const onTime = await lookup('/v1/dossiers/01/HS-1');
    expect(onTime.body.deadline).toMatchObject({
      standing: 'on_time',
      dueDate: '2026-12-10',
      finishDate: '2026-12-10',
      today: null,
    });
    expect(onTime.body.deadline.rule).toMatch(/finished \(status 9, 10\): early .* on time .* late/);

    await write(
      at(10, 2, '2026-12-10T17:01:00.000Z', { dueAt, finishedAt: null, returnedAt: '2026-12-10T17:01:00.000Z' }),
    );
    const late = await lookup('/v1/dossiers/01/HS-1');
    expect(late.body.deadline).toMatchObject({ standing: 'late', status: 10, finishDate: '2026-12-11' });
  });

  it('takes the time waiting on the applicant (statuses 5, 6) out, beside the plain standing', async () => {
    // Received 1 Dec, supplement requested 3 Dec, supplied 6 Dec (3 days), finished 12 Dec: two days late, one
    // day early once the three days of waiting are taken out.
    await write(
      at(2, 1, '2026-12-01T02:00:00.000Z', { dueAt }),
      at(5, 2, '2026-12-03T02:00:00.000Z', { dueAt }),
      at(4, 3, '2026-12-06T02:00:00.000Z', { dueAt }),
      at(9, 4, '2026-12-12T02:00:00.000Z', { dueAt, finishedAt: '2026-12-12T02:00:00.000Z' }),
    );
    const { body } = await lookup('/v1/dossiers/01/HS-1');
    expect(body.deadline).toMatchObject({
      standing: 'late',
      finishDate: '2026-12-12',
      standingWithoutApplicantWaiting: 'early',
      applicantWaitingSeconds: 3 * 86_400,
      waitingOnApplicantSince: null,
      dateWithoutApplicantWaiting: '2026-12-09',
    });
  });

  it('stops the clock while the dossier waits on the applicant', async () => {
    await write(at(2, 1, '2026-12-01T02:00:00.000Z', { dueAt }), at(6, 2, '2026-12-08T02:00:00.000Z', { dueAt }));
    clock.set('2026-12-20T05:00:00Z');
    const first = await lookup('/v1/dossiers/01/HS-1');
    expect(first.body.deadline).toMatchObject({
      standing: 'overdue_in_progress',
      standingWithoutApplicantWaiting: 'in_progress',
      applicantWaitingSeconds: 0,
      waitingOnApplicantSince: '2026-12-08T02:00:00.000Z',
      dateWithoutApplicantWaiting: '2026-12-08',
    });
    clock.set('2026-12-25T05:00:00Z');
    const later = await lookup('/v1/dossiers/01/HS-1');
    expect(later.body.deadline).toMatchObject({
      today: '2026-12-25',
      standingWithoutApplicantWaiting: 'in_progress',
      dateWithoutApplicantWaiting: '2026-12-08',
    });
  });
});

describe('the ETag', () => {
  it('is strong and quoted; If-None-Match with it answers 304 without a body; private, no-cache', async () => {
    await write(at(9, 1, '2026-12-01T02:00:00.000Z', { finishedAt: '2026-12-01T02:00:00.000Z' }));
    const first = await lookup('/v1/dossiers/01/HS-1');
    const etag = first.response.headers.get('etag')!;
    expect(etag).toMatch(/^"1-[A-Za-z0-9_-]{22}"$/);
    expect(first.response.headers.get('cache-control')).toBe('private, no-cache');

    const again = await lookup('/v1/dossiers/01/HS-1', { 'if-none-match': etag });
    expect(again.status).toBe(304);
    expect(again.text).toBe('');
    expect(again.response.headers.get('etag')).toBe(etag);
    expect(again.response.headers.get('cache-control')).toBe('private, no-cache');

    // A list, a weak form of the same tag, and * all match; another tag does not.
    expect((await lookup('/v1/dossiers/01/HS-1', { 'if-none-match': `"other", ${etag}` })).status).toBe(304);
    expect((await lookup('/v1/dossiers/01/HS-1', { 'if-none-match': `W/${etag}` })).status).toBe(304);
    expect((await lookup('/v1/dossiers/01/HS-1', { 'if-none-match': '*' })).status).toBe(304);
    expect((await lookup('/v1/dossiers/01/HS-1', { 'if-none-match': '"1-other"' })).status).toBe(200);
    // A finished dossier's answer does not change with the date.
    clock.set('2027-06-01T00:00:00Z');
    expect((await lookup('/v1/dossiers/01/HS-1', { 'if-none-match': etag })).status).toBe(304);
  });

  it('changes when the row changes, and when the history gains a state the row did not take', async () => {
    await write(at(4, 2, '2026-12-01T02:00:00.000Z'));
    const first = (await lookup('/v1/dossiers/01/HS-1')).response.headers.get('etag')!;
    await write(at(1, 1, '2026-11-30T02:00:00.000Z')); // a late older state: history only
    const second = await lookup('/v1/dossiers/01/HS-1', { 'if-none-match': first });
    expect(second.status).toBe(200);
    const secondTag = second.response.headers.get('etag')!;
    expect(secondTag).not.toBe(first);

    await write(at(5, 3, '2026-12-01T04:00:00.000Z'));
    const third = await lookup('/v1/dossiers/01/HS-1', { 'if-none-match': secondTag });
    expect(third.status).toBe(200);
    expect(third.body.status.code).toBe(5);
    expect(third.response.headers.get('etag')).toMatch(/^"3-/);
  });

  it('for a dossier in progress, holds within a Vietnam day and changes at its midnight', async () => {
    await write(at(4, 1, '2026-12-01T02:00:00.000Z', { dueAt: '2026-12-10T10:00:00.000Z' }));
    clock.set('2026-12-10T17:00:00Z'); // 00:00 on 11 December in Vietnam
    const tag = (await lookup('/v1/dossiers/01/HS-1')).response.headers.get('etag')!;
    clock.set('2026-12-11T16:59:59Z'); // 23:59:59 the same day in Vietnam
    expect((await lookup('/v1/dossiers/01/HS-1', { 'if-none-match': tag })).status).toBe(304);
    clock.set('2026-12-11T17:00:00Z'); // the next day in Vietnam
    const next = await lookup('/v1/dossiers/01/HS-1', { 'if-none-match': tag });
    expect(next.status).toBe(200);
    expect(next.body.deadline.today).toBe('2026-12-12');
  });
});

describe('former province codes', () => {
  // Former Bắc Ninh (27) merged into Bắc Ninh (24), which absorbed former Bắc Giang (24): code 24 was reused.
  beforeEach(async () => {
    await write(
      dossierRecord({ provinceCode: '24', sourceProvinceCode: '27', sourceCodeSet: '2008', dossierCode: 'BN 1/2024' }),
    );
  });

  it('finds a dossier received by a former province under its successor, keeping the source province', async () => {
    const { status, body } = await lookup(`/v1/dossiers/24/${encodeURIComponent('BN 1/2024')}`);
    expect(status).toBe(200);
    expect(body).toMatchObject({
      provinceCode: '24',
      provinceName: 'Bắc Ninh',
      dossierCode: 'BN 1/2024',
      sourceProvinceCode: '27',
      sourceCodeSet: '2008',
    });
  });

  it('redirects a code only the former set has (308) to the canonical URL, which answers', async () => {
    const { response } = await lookup(`/v1/dossiers/27/${encodeURIComponent('BN 1/2024')}`);
    expect(response.status).toBe(308);
    const location = response.headers.get('location')!;
    expect(location).toBe('/v1/dossiers/24/BN%201%2F2024');
    expect((await lookup(location)).body.dossierCode).toBe('BN 1/2024');
  });

  it('reads a reused code as the current province, and as the former one only with codeSet=2008', async () => {
    expect((await lookup(`/v1/dossiers/24/${encodeURIComponent('BN 1/2024')}`)).status).toBe(200);
    const former = await lookup('/v1/dossiers/24/X-1?codeSet=2008');
    expect(former.status).toBe(308);
    expect(former.response.headers.get('location')).toBe('/v1/dossiers/24/X-1');
    const explicit = await lookup('/v1/dossiers/27/X-1?codeSet=2008');
    expect(explicit.response.headers.get('location')).toBe('/v1/dossiers/24/X-1');
  });

  it('refuses a former-only code named as current, and a code neither set has', async () => {
    await expectProblem(
      '/v1/dossiers/27/X-1?codeSet=2025',
      404,
      'province_not_found',
      /former code of Bắc Ninh, now 24/,
    );
    await expectProblem('/v1/dossiers/99/X-1', 404, 'province_not_found', /not a current \(2025\) province code/);
    await expectProblem('/v1/dossiers/99/X-1?codeSet=2008', 404, 'province_not_found', /not a former \(2008\)/);
  });
});

describe('problems', () => {
  it('answers 404 dossier_not_found for an unknown dossier of a known province', async () => {
    await expectProblem('/v1/dossiers/79/NOPE', 404, 'dossier_not_found', /no dossier "NOPE" in province 79/);
  });

  it('answers 400 invalid_request naming the bad parameter and what is expected', async () => {
    const body = await expectProblem(
      '/v1/dossiers/1/X',
      400,
      'invalid_request',
      /params\.provinceCode: expected a two-digit/,
    );
    expect(body.errors).toEqual([expect.stringMatching(/^params\.provinceCode:/)]);
    await expectProblem(
      '/v1/dossiers/01/X?codeSet=2030',
      400,
      'invalid_request',
      /querystring\.codeSet: expected 2025 or 2008/,
    );
    await expectProblem(
      '/v1/dossiers/01/X?code=2008',
      400,
      'invalid_request',
      /querystring: unknown parameter "code"; expected only codeSet/,
    );
  });

  it('needs a portal:read key: 401 without one, 403 with an admin key', async () => {
    const none = await fetch(`${api.url}/v1/dossiers/01/X`);
    expect(none.status).toBe(401);
    const { key: admin } = await createApiKey(env.db, 'ops', 'admin', { actor: cliActor() });
    const forbidden = await fetch(`${api.url}/v1/dossiers/01/X`, { headers: { authorization: `Bearer ${admin}` } });
    expect(forbidden.status).toBe(403);
    expect(((await forbidden.json()) as { code: string }).code).toBe('forbidden');
  });
});
