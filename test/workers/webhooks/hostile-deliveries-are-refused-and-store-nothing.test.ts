import { sql } from 'kysely';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { saveConnector, setConnectorState } from '../../../db/queries/connectors.js';
import { rotateWebhookSecret } from '../../../db/queries/webhook-secrets.js';
import { SecretBox } from '../../../workers/webhooks/secret-box.js';
import { startFleet, type Fleet } from '../../../workers/fleet.js';
import { createLogger } from '../../../workers/logger.js';
import { createTestEnvironment, type TestEnvironment } from '../../support/test-environment.js';
import {
  deliver,
  issueSecret,
  nationalUpdate,
  newWebhookId,
  registerWebhookConnector,
  signBytes,
  signed,
  testSecretsKey,
  writerCaughtUp,
  type Answer,
  type Delivery,
} from './webhook-client.js';

// A hostile corpus: every request gets its status and problem code, and the database proves what it did —
// nothing at all for a refused request (no queue job was even added), dead letters only where a record was bad,
// and exactly the intended row (text stored verbatim, in NFC) where the record was good.

const secretsKey = testSecretsKey();
let env: TestEnvironment;
let fleet: Fleet;
let secret: string;
let otherSecret: string;
let rotatedOut: string;
let rotatedIn: string;
let graceOld: string;

const connector = 'hostile-01';
const minutes = (n: number) => new Date(Date.now() + n * 60_000);

interface Effect {
  /** Dossier codes stored by this request (and nothing else). */
  stored?: string[];
  /** Reasons of the dead letters kept (and nothing else). */
  deadLetters?: string[];
}

interface Case {
  name: string;
  status: number;
  code?: string;
  connector?: string;
  request: () => Delivery;
  effect?: Effect;
  check?: (answer: Answer) => Promise<void> | void;
}

const update = nationalUpdate;
const sign = (body: unknown, options: Parameters<typeof signed>[2] = {}) => signed(secret, body, options);
const withHeaders = (delivery: Delivery, change: (headers: Record<string, string>) => void): Delivery => {
  const headers = { ...delivery.headers };
  change(headers);
  return { body: delivery.body, headers };
};
const sql1 = `'; DROP TABLE dossiers; --`;
const html = `<script>alert("x")</script><img src=x onerror=alert(1)>`;
const nfd = (text: string) => text.normalize('NFD');

// Personal data in updates of every shape: the dead letter keeps only the mapped values and the shape of the rest.
const applicant = {
  name: 'Phạm Thị Hostilename',
  idNumber: '079377444111',
  phone: '0977444111',
  email: 'hostile.mail@example.vn',
};
const applicantValues = [
  applicant.name,
  nfd(applicant.name),
  applicant.idNumber,
  '79377444111',
  applicant.phone,
  '977444111',
  applicant.email,
  'Hostilename',
  'Nguyễn Văn An',
  '001099012345',
];
/** The newest `count` dead letters hold none of the applicant's data, in their payload or message. */
async function expectNoApplicantData(
  count: number,
  answer: Answer,
): Promise<{ raw_payload: string; message: string }[]> {
  const letters = await env.db
    .selectFrom('dead_letters')
    .select(['raw_payload', 'message'])
    .orderBy('id', 'desc')
    .limit(count)
    .execute();
  for (const text of [JSON.stringify(letters), JSON.stringify(answer.body)])
    for (const value of applicantValues) expect(text).not.toContain(value);
  return letters;
}
const textMarker = (text: string) => `[text: ${[...text].length} characters]`;
let nested: unknown = { NguoiXuLy: nfd(applicant.name), ghiChu: applicant.email, c: [applicant.phone] };
for (let level = 0; level < 50; level += 1) nested = { lichSu: nested };

const cases: Case[] = [
  // --- authentication: 401 ---------------------------------------------------------------------------------
  {
    name: 'no signature headers at all',
    status: 401,
    code: 'webhook_id_missing',
    request: () => ({ body: JSON.stringify(update('A01')), headers: { 'content-type': 'application/json' } }),
  },
  {
    name: 'webhook-signature missing',
    status: 401,
    code: 'signature_missing',
    request: () => withHeaders(sign(update('A02')), (h) => delete h['webhook-signature']),
  },
  {
    name: 'webhook-timestamp missing',
    status: 401,
    code: 'signature_missing',
    request: () => withHeaders(sign(update('A03')), (h) => delete h['webhook-timestamp']),
  },
  {
    name: 'webhook-id missing',
    status: 401,
    code: 'webhook_id_missing',
    request: () => withHeaders(sign(update('A04')), (h) => delete h['webhook-id']),
  },
  {
    name: 'webhook-signature empty',
    status: 401,
    code: 'signature_missing',
    request: () => withHeaders(sign(update('A05')), (h) => (h['webhook-signature'] = '  ')),
  },
  {
    name: 'a bearer token instead of a signature',
    status: 401,
    code: 'signature_missing',
    request: () =>
      withHeaders(sign(update('A06')), (h) => {
        delete h['webhook-signature'];
        h.authorization = 'Bearer abc';
      }),
  },
  {
    name: 'a wrong signature of the right shape',
    status: 401,
    code: 'signature_invalid',
    request: () =>
      withHeaders(
        sign(update('A07')),
        (h) => (h['webhook-signature'] = `v1,${Buffer.alloc(32, 7).toString('base64')}`),
      ),
  },
  {
    name: 'a truncated signature',
    status: 401,
    code: 'signature_invalid',
    request: () =>
      withHeaders(sign(update('A08')), (h) => (h['webhook-signature'] = h['webhook-signature']!.slice(0, -6))),
  },
  {
    name: 'a signature of another version (v2)',
    status: 401,
    code: 'signature_invalid',
    request: () =>
      withHeaders(sign(update('A09')), (h) => (h['webhook-signature'] = h['webhook-signature']!.replace('v1,', 'v2,'))),
  },
  {
    name: 'a signature made for another body',
    status: 401,
    code: 'signature_invalid',
    request: () => {
      const original = sign(update('A10', { TrangThaiHoSo: '2' }));
      return { headers: original.headers, body: JSON.stringify(update('A10', { TrangThaiHoSo: '10' })) };
    },
  },
  {
    name: 'a signature made for another webhook-id',
    status: 401,
    code: 'signature_invalid',
    request: () => withHeaders(sign(update('A11')), (h) => (h['webhook-id'] = newWebhookId())),
  },
  {
    name: 'a signature made at another timestamp than the header says',
    status: 401,
    code: 'signature_invalid',
    request: () =>
      withHeaders(
        sign(update('A12'), { at: minutes(-1) }),
        (h) => (h['webhook-timestamp'] = String(Math.floor(Date.now() / 1000))),
      ),
  },
  {
    name: "a signature made with another connector's secret",
    status: 401,
    code: 'signature_invalid',
    request: () => signed(otherSecret, update('A13')),
  },
  {
    name: 'a signature made with a rotated-out secret after its grace period',
    status: 401,
    code: 'signature_invalid',
    connector: 'hostile-rotated',
    request: () => signed(rotatedOut, update('A14')),
  },
  {
    name: 'a replayed delivery: timestamp 10 minutes old',
    status: 401,
    code: 'timestamp_out_of_tolerance',
    request: () => sign(update('A15'), { at: minutes(-10) }),
  },
  {
    name: 'a timestamp 10 minutes in the future',
    status: 401,
    code: 'timestamp_out_of_tolerance',
    request: () => sign(update('A16'), { at: minutes(10) }),
  },
  {
    name: 'a timestamp in milliseconds, signed as such',
    status: 401,
    code: 'timestamp_out_of_tolerance',
    request: () => {
      const id = newWebhookId();
      const body = Buffer.from(JSON.stringify(update('A17')));
      const timestamp = String(Date.now());
      return {
        body,
        headers: {
          'content-type': 'application/json',
          'webhook-id': id,
          'webhook-timestamp': timestamp,
          'webhook-signature': signBytes(secret, id, timestamp, body),
        },
      };
    },
  },
  {
    name: 'a timestamp that is not a number',
    status: 401,
    code: 'signature_invalid',
    request: () => withHeaders(sign(update('A18')), (h) => (h['webhook-timestamp'] = 'yesterday')),
  },
  {
    name: 'a webhook-id of 300 characters',
    status: 401,
    code: 'signature_invalid',
    request: () => sign(update('A19'), { id: 'x'.repeat(300) }),
  },
  {
    name: 'a connector without a webhook secret',
    status: 401,
    code: 'webhook_not_enabled',
    connector: 'hostile-nosecret',
    request: () => sign(update('A20')),
  },

  // --- connectors: 404, 409 ---------------------------------------------------------------------------------
  {
    name: 'an unknown connector',
    status: 404,
    code: 'connector_not_found',
    connector: 'no-such-connector',
    request: () => sign(update('B01')),
  },
  {
    name: 'a connector id that is not one (uppercase, dots)',
    status: 404,
    code: 'connector_not_found',
    connector: 'Hostile..01',
    request: () => sign(update('B02')),
  },
  {
    name: 'a removed connector',
    status: 404,
    code: 'connector_not_found',
    connector: 'hostile-removed',
    request: () => sign(update('B03')),
  },
  {
    name: 'a connector whose kind cannot receive pushes (lgsp-soap)',
    status: 404,
    code: 'webhooks_not_supported',
    connector: 'hostile-soap',
    request: () => sign(update('B04')),
  },
  {
    name: 'a paused connector, correctly signed',
    status: 409,
    code: 'connector_paused',
    connector: 'hostile-paused',
    request: () => signed(secret, update('B05')),
  },

  // --- the body as bytes: 413, 415, 400 -----------------------------------------------------------------------
  {
    name: 'a body of 10 MiB',
    status: 413,
    code: 'payload_too_large',
    request: () => sign(JSON.stringify([update('C01', { MaTTHC: 'x'.repeat(10 * 1024 * 1024) })])),
  },
  {
    name: 'Content-Type text/plain',
    status: 415,
    code: 'unsupported_media_type',
    request: () => sign(update('C02'), { contentType: 'text/plain' }),
  },
  {
    name: 'a form body',
    status: 415,
    code: 'unsupported_media_type',
    request: () => sign('MaHoSo=C03', { contentType: 'application/x-www-form-urlencoded' }),
  },
  {
    name: 'JSON declared in latin-1',
    status: 415,
    code: 'unsupported_media_type',
    request: () => sign(update('C04'), { contentType: 'application/json; charset=iso-8859-1' }),
  },
  {
    name: 'no body and no Content-Type',
    status: 415,
    code: 'unsupported_media_type',
    request: () => withHeaders(sign(''), (h) => delete h['content-type']),
  },
  {
    name: 'invalid UTF-8, signed over its bytes',
    status: 400,
    code: 'body_unparseable',
    request: () => {
      const id = newWebhookId();
      const timestamp = String(Math.floor(Date.now() / 1000));
      const body = Buffer.concat([Buffer.from('{"MaHoSo":"C05'), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from('"}')]);
      return {
        body,
        headers: {
          'content-type': 'application/json',
          'webhook-id': id,
          'webhook-timestamp': timestamp,
          'webhook-signature': signBytes(secret, id, timestamp, body),
        },
      };
    },
  },
  {
    name: '10,000-deep nesting',
    status: 400,
    code: 'body_unparseable',
    request: () => sign(`${'['.repeat(10_000)}${']'.repeat(10_000)}`),
  },
  {
    name: '10,000-deep objects, never closed',
    status: 400,
    code: 'body_unparseable',
    request: () => sign('{"a":'.repeat(10_000)),
  },
  {
    name: 'duplicate keys',
    status: 400,
    code: 'body_unparseable',
    request: () => sign(`{"MaHoSo":"C12","TrangThaiHoSo":"2","TrangThaiHoSo":"10","NgayCapNhat":"20261127080000"}`),
  },
  {
    name: 'duplicate keys, one written with escapes',
    status: 400,
    code: 'body_unparseable',
    request: () => sign(`{"MaHoSo":"C13","MaHo\\u0053o":"C13b","TrangThaiHoSo":"4"}`),
  },
  {
    name: 'not JSON (XML)',
    status: 400,
    code: 'body_unparseable',
    request: () => sign('<HoSo><MaHoSo>C14</MaHoSo></HoSo>'),
  },
  {
    name: 'truncated JSON',
    status: 400,
    code: 'body_unparseable',
    request: () => sign(JSON.stringify(update('C15')).slice(0, -9)),
  },
  {
    name: 'content after the JSON value',
    status: 400,
    code: 'body_unparseable',
    request: () => sign(`${JSON.stringify(update('C16'))} {"more":1}`),
  },
  { name: 'a JSON string instead of an update', status: 400, code: 'body_unparseable', request: () => sign('"C17"') },
  { name: 'an empty body, signed', status: 400, code: 'body_unparseable', request: () => sign('') },
  {
    name: 'a raw control character in a string',
    status: 400,
    code: 'body_unparseable',
    request: () => sign('{"MaHoSo":"C19\u0001"}'),
  },

  // --- prototype keys: valid JSON, but no dossier field is named so; each update holding one is a dead letter --
  {
    name: 'a __proto__ key at the top of the update',
    status: 422,
    code: 'all_records_invalid',
    request: () =>
      sign(
        `{"MaHoSo":"C08","__proto__":{"TrangThaiHoSo":"10","polluted":true},"TrangThaiHoSo":"4","NgayCapNhat":"20261127080000"}`,
      ),
    effect: { deadLetters: ['malformed_record'] },
    check: async (answer) => {
      expect(answer.body.errors).toEqual([
        expect.stringMatching(
          /^\$ \(dossier C08\): malformed_record: the update holds the key "__proto__" \(at __proto__\), which is refused: no dossier field is named so/,
        ),
      ]);
      expect(JSON.stringify(answer.body)).not.toMatch(/not valid JSON/);
      await expectPrototypeLetter('C08', /the key "__proto__" \(at __proto__\)/);
    },
  },
  {
    name: 'a __proto__ key written with escapes',
    status: 422,
    code: 'all_records_invalid',
    request: () =>
      sign(`[{"MaHoSo":"C09","\\u005f_proto__":{"polluted":true},"TrangThaiHoSo":"4","NgayCapNhat":"20261127080000"}]`),
    effect: { deadLetters: ['malformed_record'] },
    check: async (answer) => {
      expect(answer.body.errors).toEqual([
        expect.stringMatching(/^\$\[0\] \(dossier C09\): malformed_record: the update holds the key "__proto__"/),
      ]);
      await expectPrototypeLetter('C09', /"__proto__"/);
    },
  },
  {
    name: 'a constructor.prototype key',
    status: 422,
    code: 'all_records_invalid',
    request: () => sign(`{"MaHoSo":"C10","constructor":{"prototype":{"polluted":true}}}`),
    effect: { deadLetters: ['malformed_record'] },
    check: (answer) =>
      expect(answer.body.errors).toEqual([
        expect.stringMatching(
          /^\$ \(dossier C10\): malformed_record: the update holds the key "constructor" \(at constructor\)/,
        ),
      ]),
  },
  {
    name: 'a constructor key',
    status: 422,
    code: 'all_records_invalid',
    request: () => sign(JSON.stringify({ ...update('C11'), constructor: 'x' })),
    effect: { deadLetters: ['malformed_record'] },
  },
  {
    name: 'a prototype key nested deep in a list inside the update',
    status: 422,
    code: 'all_records_invalid',
    request: () =>
      sign(
        JSON.stringify({
          ...update('P01'),
          TepDinhKem: [{ ten: 'a.pdf' }, { meta: { prototype: { polluted: true } } }],
        }),
      ),
    effect: { deadLetters: ['malformed_record'] },
    check: (answer) =>
      expect(answer.body.errors).toEqual([
        expect.stringMatching(
          /^\$ \(dossier P01\): malformed_record: the update holds the key "prototype" \(at TepDinhKem\[1\]\.meta\.prototype\)/,
        ),
      ]),
  },
  {
    name: 'a __proto__ key in one update of three: the other two are applied',
    status: 202,
    request: () =>
      sign(
        `[${JSON.stringify(update('P02a'))},{"MaHoSo":"P02b","TrangThaiHoSo":"4","NgayCapNhat":"20261127080000","PhienBan":1,"HoSoKemTheo":{"__proto__":{"TrangThaiHoSo":"10"}}},${JSON.stringify(update('P02c'))}]`,
      ),
    effect: { stored: ['P02a', 'P02c'], deadLetters: ['malformed_record'] },
    check: async (answer) => {
      expect(answer.body).toMatchObject({ accepted: 2, rejected: 1 });
      expect(answer.body.errors).toEqual([
        expect.stringMatching(
          /^\$\[1\] \(dossier P02b\): malformed_record: the update holds the key "__proto__" \(at HoSoKemTheo\.__proto__\)/,
        ),
      ]);
      const rows = await env.db
        .selectFrom('dossiers')
        .select(['dossier_code', 'status'])
        .where('dossier_code', 'in', ['P02a', 'P02c'])
        .orderBy('dossier_code')
        .execute();
      expect(rows).toEqual([
        { dossier_code: 'P02a', status: 4 },
        { dossier_code: 'P02c', status: 4 },
      ]);
    },
  },
  {
    name: 'a __proto__ key in every update: one dead letter each',
    status: 422,
    code: 'all_records_invalid',
    request: () => sign(`[{"MaHoSo":"P03a","__proto__":null},{"MaHoSo":"P03b","__proto__":[1,2]}]`),
    effect: { deadLetters: ['malformed_record', 'malformed_record'] },
    check: (answer) =>
      expect(answer.body.errors).toEqual([
        expect.stringMatching(/^\$\[0\] \(dossier P03a\): malformed_record: /),
        expect.stringMatching(/^\$\[1\] \(dossier P03b\): malformed_record: /),
      ]),
  },

  // --- the updates: 202 with dead letters, 422 -------------------------------------------------------------
  {
    name: 'SQL in every text field',
    status: 202,
    request: () => sign(update(`D01${sql1}`, { MaHoSoKhac: sql1, MaTTHC: sql1, MaLinhVuc: sql1, DonViXuLy: sql1 })),
    effect: { stored: [`D01${sql1}`] },
    check: async () => {
      const row = await env.db
        .selectFrom('dossiers')
        .selectAll()
        .where('dossier_code', '=', `D01${sql1}`)
        .executeTakeFirstOrThrow();
      expect([row.alt_dossier_code, row.procedure_code, row.sector_code, row.agency_code]).toEqual([
        sql1,
        sql1,
        sql1,
        sql1,
      ]);
    },
  },
  {
    name: 'HTML in every text field',
    status: 202,
    request: () => sign(update(`D02${html}`, { MaHoSoKhac: html, MaTTHC: html, MaLinhVuc: html, DonViXuLy: html })),
    effect: { stored: [`D02${html}`] },
    check: async () => {
      const row = await env.db
        .selectFrom('dossiers')
        .selectAll()
        .where('dossier_code', '=', `D02${html}`)
        .executeTakeFirstOrThrow();
      expect([row.alt_dossier_code, row.procedure_code, row.sector_code, row.agency_code]).toEqual([
        html,
        html,
        html,
        html,
      ]);
    },
  },
  {
    name: 'SQL in the province code',
    status: 422,
    code: 'all_records_invalid',
    request: () => sign(update('D03', { MaTinh: sql1 })),
    effect: { deadLetters: ['bad_province'] },
  },
  {
    name: 'HTML in the status',
    status: 422,
    code: 'all_records_invalid',
    request: () => sign(update('D04', { TrangThaiHoSo: html })),
    effect: { deadLetters: ['unknown_status'] },
  },
  {
    name: 'SQL in a date field',
    status: 422,
    code: 'all_records_invalid',
    request: () => sign(update('D04b', { NgayHenTra: sql1 })),
    effect: { deadLetters: ['bad_date'] },
  },
  {
    name: 'HTML in a coded number field',
    status: 422,
    code: 'all_records_invalid',
    request: () => sign(update('D04c', { LoaiDoiTuong: html })),
    effect: { deadLetters: ['bad_value'] },
  },
  {
    name: 'NFD Vietnamese text, stored as NFC',
    status: 202,
    request: () =>
      sign(update(nfd('HỒ-SƠ-ĐƯỢC-TIẾP-NHẬN-D05'), { MaHoSoKhac: nfd('Hồ sơ khác'), DonViXuLy: nfd('Sở Tư pháp') })),
    effect: { stored: ['HỒ-SƠ-ĐƯỢC-TIẾP-NHẬN-D05'.normalize('NFC')] },
    check: async () => {
      const row = await env.db
        .selectFrom('dossiers')
        .selectAll()
        .where('dossier_code', '=', 'HỒ-SƠ-ĐƯỢC-TIẾP-NHẬN-D05'.normalize('NFC'))
        .executeTakeFirstOrThrow();
      expect(row.dossier_code).not.toBe(nfd('HỒ-SƠ-ĐƯỢC-TIẾP-NHẬN-D05'));
      expect([row.alt_dossier_code, row.agency_code]).toEqual([
        'Hồ sơ khác'.normalize('NFC'),
        'Sở Tư pháp'.normalize('NFC'),
      ]);
    },
  },
  // Text Postgres cannot store (issue #9): never dropped or replaced in silence, never able to fail a write.
  {
    name: 'a NUL character in the dossier code: a dead letter, never the code with the NUL removed',
    status: 422,
    code: 'all_records_invalid',
    request: () => sign(update('D06\u0000')),
    effect: { deadLetters: ['bad_value'] },
    check: async (answer) => {
      expect(answer.body.errors).toEqual([
        expect.stringMatching(
          /^\$ \(dossier D06\\u0000\): bad_value: dossierCode: contains U\+0000 \(NUL\) at character 4/,
        ),
      ]);
      const letter = await env.db
        .selectFrom('dead_letters')
        .select(['dossier_code', 'raw_payload'])
        .orderBy('id', 'desc')
        .executeTakeFirstOrThrow();
      expect(letter.dossier_code).toBe('D06\\u0000');
      expect((JSON.parse(letter.raw_payload) as { MaHoSo: string }).MaHoSo).toBe('D06\u0000');
    },
  },
  {
    name: 'a valid update and one with NUL in its code and an unknown status, in one array: the valid one is stored',
    status: 202,
    request: () => sign([update('P06-valid'), update('P06\u0000-poison', { TrangThaiHoSo: '99' })]),
    effect: { stored: ['P06-valid'], deadLetters: ['unknown_status'] },
    check: async (answer) => {
      expect(answer.body).toMatchObject({ accepted: 1, rejected: 1 });
      const letter = await env.db
        .selectFrom('dead_letters')
        .select(['dossier_code', 'raw_payload'])
        .orderBy('id', 'desc')
        .executeTakeFirstOrThrow();
      expect(letter.dossier_code).toBe('P06\\u0000-poison');
      expect(letter.raw_payload).toContain('"MaHoSo":"P06\\u0000-poison"');
    },
  },
  {
    name: 'an unpaired surrogate (a \\ud800 escape) in a mapped field',
    status: 422,
    code: 'all_records_invalid',
    request: () =>
      sign(
        `{"MaHoSo":"P07","MaTinh":"01","TrangThaiHoSo":"4","NgayCapNhat":"20261127080000","DonViXuLy":"000.00.01.H01\\ud800"}`,
      ),
    effect: { deadLetters: ['bad_value'] },
  },
  {
    name: 'a NUL character in the update time',
    status: 422,
    code: 'all_records_invalid',
    request: () => sign(update('P08', { NgayCapNhat: '20261127\u0000080000' })),
    effect: { deadLetters: ['bad_date'] },
  },
  {
    name: 'NUL and unpaired surrogates in fields and keys the mapping does not read: the update is stored',
    status: 202,
    request: () =>
      sign(
        update('P09', {
          QuaTrinhXuLy: [{ NoiDungXuLy: 'Tiếp nhận\u0000', ['Ghi\u0000Chu']: '\uDC00' }],
          GhiChu: '\uD800',
        }),
      ),
    effect: { stored: ['P09'] },
  },
  {
    name: 'a NUL character in a key of a bad update: the dead letter is stored, the key kept only as a marker (it is not a mapped field)',
    status: 422,
    code: 'all_records_invalid',
    request: () => sign({ ['Ma\u0000HoSo']: 'P10', TrangThaiHoSo: '4', NgayCapNhat: '20261127080000' }),
    effect: { deadLetters: ['missing_field'] },
    check: async () => {
      const letter = await env.db
        .selectFrom('dead_letters')
        .select('raw_payload')
        .orderBy('id', 'desc')
        .executeTakeFirstOrThrow();
      const keys = Object.keys(JSON.parse(letter.raw_payload) as object);
      expect(keys).toContain('TrangThaiHoSo');
      expect(keys).not.toContain('Ma\u0000HoSo');
    },
  },
  {
    name: 'a raw NUL byte inside a JSON string',
    status: 400,
    code: 'body_unparseable',
    request: () => sign('{"MaHoSo":"P11\u0000"}'),
  },
  {
    name: 'wrong type: channel as an object',
    status: 422,
    code: 'all_records_invalid',
    request: () => sign(update('D07', { KenhThucHien: { x: 1 } })),
    effect: { deadLetters: ['bad_value'] },
  },
  {
    name: 'wrong type: dossier code as a number',
    status: 422,
    code: 'all_records_invalid',
    request: () => sign(update('D08', { MaHoSo: 12345 })),
    effect: { deadLetters: ['missing_field'] },
  },
  {
    name: 'wrong type: version as text',
    status: 422,
    code: 'all_records_invalid',
    request: () => sign(update('D09', { PhienBan: 'one' })),
    effect: { deadLetters: ['bad_value'] },
  },
  {
    name: 'missing field: no update time',
    status: 422,
    code: 'all_records_invalid',
    request: () => sign(update('D10', { NgayCapNhat: undefined })),
    effect: { deadLetters: ['missing_field'] },
  },
  {
    name: 'missing field: no dossier code',
    status: 422,
    code: 'all_records_invalid',
    request: () => sign(update('D11', { MaHoSo: undefined })),
    effect: { deadLetters: ['missing_field'] },
  },
  {
    name: "a date that is not a date (31 February, 25 o'clock)",
    status: 422,
    code: 'all_records_invalid',
    request: () => sign(update('D12', { NgayHenTra: '20260231250000' })),
    effect: { deadLetters: ['bad_date'] },
  },
  {
    name: 'a date that is not a date (text)',
    status: 422,
    code: 'all_records_invalid',
    request: () => sign(update('D13', { NgayCapNhat: 'tomorrow' })),
    effect: { deadLetters: ['bad_date'] },
  },
  {
    name: 'an unknown status code',
    status: 422,
    code: 'all_records_invalid',
    request: () => sign(update('D14', { TrangThaiHoSo: '99' })),
    effect: { deadLetters: ['unknown_status'] },
  },
  {
    name: 'a list holding a string',
    status: 422,
    code: 'all_records_invalid',
    request: () => sign(['D15']),
    effect: { deadLetters: ['malformed_record'] },
  },
  {
    name: 'a good delivery with one bad update: the rest is accepted',
    status: 202,
    request: () => sign([update('D16a'), update('D16b', { TrangThaiHoSo: '0' }), update('D16c')]),
    effect: { stored: ['D16a', 'D16c'], deadLetters: ['unknown_status'] },
    check: (answer) => {
      expect(answer.body).toMatchObject({ accepted: 2, rejected: 1 });
      expect(answer.body.errors).toEqual([
        expect.stringMatching(
          /^\$\[1\] \(dossier D16b\): unknown_status: TrangThaiHoSo: "0" is not a national status code/,
        ),
      ]);
    },
  },
  {
    name: 'a bad update with personal data: kept redacted, never echoed',
    status: 422,
    code: 'all_records_invalid',
    request: () => sign(update('D17', { TrangThaiHoSo: '99', SoDienThoai: '0912345678', DiaChi: '12 Lê Lợi' })),
    effect: { deadLetters: ['unknown_status'] },
    check: async (answer) => {
      const letter = await env.db
        .selectFrom('dead_letters')
        .select(['raw_payload', 'message'])
        .where('dossier_code', '=', 'D17')
        .executeTakeFirstOrThrow();
      expect(letter.raw_payload).toContain('"TrangThaiHoSo":"99"');
      expect(letter.raw_payload).not.toMatch(/Nguyễn Văn An|001099012345|0912345678|Lê Lợi/);
      expect(JSON.stringify(answer.body)).not.toMatch(/Nguyễn Văn An|001099012345|0912345678|Lê Lợi/);
    },
  },
  {
    name: 'an update that is a string of personal data',
    status: 422,
    code: 'all_records_invalid',
    request: () => sign([`${applicant.name}, CCCD ${applicant.idNumber}, ĐT ${applicant.phone}`]),
    effect: { deadLetters: ['malformed_record'] },
    check: async (answer) =>
      expect((await expectNoApplicantData(1, answer))[0]!.raw_payload).toBe(
        JSON.stringify(textMarker(`${applicant.name}, CCCD ${applicant.idNumber}, ĐT ${applicant.phone}`)),
      ),
  },
  {
    name: 'an update that is a list of values',
    status: 422,
    code: 'all_records_invalid',
    request: () => sign([['D22', nfd(applicant.name), applicant.idNumber, Number(applicant.phone), applicant.email]]),
    effect: { deadLetters: ['malformed_record'] },
    check: async (answer) => {
      const [letter] = await expectNoApplicantData(1, answer);
      expect(JSON.parse(letter!.raw_payload)).toEqual([
        textMarker('D22'),
        textMarker(nfd(applicant.name)),
        textMarker(applicant.idNumber),
        '[number]',
        textMarker(applicant.email),
      ]);
    },
  },
  {
    name: 'personal data under keys the key list used to miss, and under keys no list could name',
    status: 422,
    code: 'all_records_invalid',
    request: () =>
      sign(
        update('D23', {
          TrangThaiHoSo: '99',
          HoVaTen: applicant.name,
          TenCongDan: nfd(applicant.name),
          SoHoChieu: 'B3774441',
          MaDinhDanh: applicant.idNumber,
          mobile: applicant.phone,
          NguoiXuLy: applicant.name,
          GhiChu: `${applicant.name} ${applicant.phone}`,
          x1: applicant.email,
        }),
      ),
    effect: { deadLetters: ['unknown_status'] },
    check: async (answer) => {
      const [letter] = await expectNoApplicantData(1, answer);
      expect(letter!.raw_payload).not.toContain('B3774441');
      expect(JSON.parse(letter!.raw_payload)).toMatchObject({
        MaHoSo: 'D23',
        TrangThaiHoSo: '99',
        HoVaTen: '[personal data]',
        mobile: '[personal data]',
        GhiChu: textMarker(`${applicant.name} ${applicant.phone}`),
        x1: textMarker(applicant.email),
      });
      expect(letter!.message).toBe('TrangThaiHoSo: "99" is not a national status code; expected 1 to 10');
    },
  },
  {
    name: 'personal data nested 50 levels deep, as numbers, and as keys',
    status: 422,
    code: 'all_records_invalid',
    request: () =>
      sign([
        update('D24', { TrangThaiHoSo: '0', LichSu: nested }),
        update('D25', { TrangThaiHoSo: 99, SoDienThoai: Number(applicant.phone), SoCCCD: Number(applicant.idNumber) }),
        update('D26', {
          NgayHenTra: 'soon',
          [applicant.name]: applicant.phone,
          [applicant.email]: { [applicant.idNumber]: true },
        }),
      ]),
    effect: { deadLetters: ['unknown_status', 'unknown_status', 'bad_date'] },
    check: async (answer) => {
      await expectNoApplicantData(3, answer);
      expect(answer.body.errors).toEqual([
        '$[0] (dossier D24): unknown_status: TrangThaiHoSo: "0" is not a national status code; expected 1 to 10',
        '$[1] (dossier D25): unknown_status: TrangThaiHoSo: 99 is not a national status code; expected 1 to 10',
        expect.stringMatching(/^\$\[2\] \(dossier D26\): bad_date: NgayHenTra: "soon" is not a date/),
      ]);
    },
  },
  {
    name: 'an empty list',
    status: 202,
    request: () => sign([]),
    effect: {},
    check: (answer) => expect(answer.body).toMatchObject({ accepted: 0, rejected: 0 }),
  },
  {
    name: 'several signatures, one of them valid (a rotation in progress)',
    status: 202,
    request: () =>
      withHeaders(
        sign(update('D19')),
        (h) =>
          (h['webhook-signature'] = `v1,${Buffer.alloc(32, 1).toString('base64')} ${h['webhook-signature']} v1a,xyz`),
      ),
    effect: { stored: ['D19'] },
  },
  {
    name: 'signed with the previous secret, in its grace period',
    status: 202,
    connector: 'hostile-grace',
    request: () => signed(graceOld, update('D20')),
    effect: { stored: ['D20'] },
  },
  {
    name: 'signed with the new secret after a rotation',
    status: 202,
    connector: 'hostile-grace',
    request: () => signed(rotatedIn, update('D21')),
    effect: { stored: ['D21'] },
  },
];

const counts = async () => {
  const { rows } = await sql<{ dossiers: string; events: string; letters: string }>`
    SELECT (SELECT count(*) FROM dossiers) AS dossiers, (SELECT count(*) FROM dossier_events) AS events, (SELECT count(*) FROM dead_letters) AS letters`.execute(
    env.db,
  );
  return { dossiers: Number(rows[0]!.dossiers), events: Number(rows[0]!.events), letters: Number(rows[0]!.letters) };
};
beforeAll(async () => {
  env = await createTestEnvironment({ SECRETS_KEY: secretsKey });
  const register = (id: string, kind = 'national-rest', config: unknown = { baseUrl: 'http://127.0.0.1:9' }) =>
    saveConnector(env.db, {
      id,
      sourceProvinceCode: '01',
      sourceCodeSet: '2025',
      kind,
      config,
      pollIntervalMs: 3_600_000,
    });
  secret = await registerWebhookConnector(env.db, secretsKey, connector);
  otherSecret = await registerWebhookConnector(env.db, secretsKey, 'hostile-other');
  // These share the main secret, so the only thing wrong with their deliveries is what the case is about.
  await register('hostile-paused');
  await issueSecretFixed('hostile-paused', secret);
  await setConnectorState(env.db, 'hostile-paused', 'paused', ['active']);
  await register('hostile-removed');
  await issueSecretFixed('hostile-removed', secret);
  await setConnectorState(env.db, 'hostile-removed', 'removed', ['active']);
  process.env.HOSTILE_SOAP_PASSWORD = 'not-a-real-password';
  await register('hostile-soap', 'lgsp-soap', {
    baseUrl: 'http://127.0.0.1:9',
    username: 'u',
    password: { env: 'HOSTILE_SOAP_PASSWORD' },
  });
  await issueSecretFixed('hostile-soap', secret);
  await register('hostile-nosecret');
  // Rotated before the gateway ever reads them: the first secret refused at once, or kept for a day.
  rotatedOut = await registerWebhookConnector(env.db, secretsKey, 'hostile-rotated');
  await issueSecret(env.db, secretsKey, 'hostile-rotated', 0);
  graceOld = await registerWebhookConnector(env.db, secretsKey, 'hostile-grace');
  rotatedIn = await issueSecret(env.db, secretsKey, 'hostile-grace', 86_400);

  fleet = await startFleet(env.config, ['gateway', 'writer'], createLogger('silent'));
});
afterAll(async () => {
  await fleet?.stop();
  await env?.cleanup();
});

/**
 * The dead letter of an update refused for a prototype key: its reason, a message naming the key, and a raw payload
 * that is plain data.
 */
async function expectPrototypeLetter(dossierCode: string, message: RegExp): Promise<void> {
  const letter = await env.db
    .selectFrom('dead_letters')
    .select(['reason', 'message', 'raw_payload'])
    .where('dossier_code', '=', dossierCode)
    .executeTakeFirstOrThrow();
  expect(letter.reason).toBe('malformed_record');
  expect(letter.message).toMatch(message);
  expect(letter.message).not.toMatch(/not valid JSON/);
  expect(letter.raw_payload).toContain(`"MaHoSo":"${dossierCode}"`);
}

/** Stores a known secret as a connector's current one (so several connectors share it). */
async function issueSecretFixed(id: string, value: string): Promise<void> {
  await rotateWebhookSecret(env.db, id, new SecretBox(secretsKey).seal(value, id), 0);
}

it(`has at least 40 hostile requests`, () => {
  expect(cases.length).toBeGreaterThanOrEqual(40);
  expect(new Set(cases.map((c) => c.name)).size).toBe(cases.length);
});

it.each(cases.map((c) => [c.name, c] as const))('%s', async (_name, testCase) => {
  const before = await counts();
  const { accepted: acceptedBefore } = await writerCaughtUp(fleet.metrics);
  const answer = await deliver(fleet.url, testCase.connector ?? connector, testCase.request());

  expect({ status: answer.status, code: answer.body.code }).toEqual({ status: testCase.status, code: testCase.code });
  if (testCase.status >= 400) {
    expect(answer.type).toMatch(/^application\/problem\+json/);
    expect(answer.body).toMatchObject({
      type: `urn:dossier-sync:problem:${testCase.code}`,
      status: testCase.status,
      title: expect.any(String),
      detail: expect.any(String),
    });
    expect((answer.body.detail as string).length).toBeGreaterThan(20);
  }
  // Whatever was sent, the answer never quotes a secret or the applicant.
  const text = JSON.stringify(answer.body);
  for (const value of [secret, otherSecret, rotatedOut, rotatedIn, graceOld])
    expect(text).not.toContain(value.slice(6, 30));
  expect(text).not.toMatch(/Nguyễn Văn An|001099012345|0912345678/);

  const effect = testCase.effect ?? {};
  const stored = effect.stored ?? [];
  const deadLetters = effect.deadLetters ?? [];
  // Everything the gateway took is committed; a refused request handed nothing at all to the queue.
  const { accepted: acceptedAfter } = await writerCaughtUp(fleet.metrics);
  expect(acceptedAfter - acceptedBefore).toBe(stored.length + deadLetters.length);

  const after = await counts();
  expect({
    dossiers: after.dossiers - before.dossiers,
    events: after.events - before.events,
    letters: after.letters - before.letters,
  }).toEqual({
    dossiers: stored.length,
    events: stored.length,
    letters: deadLetters.length,
  });
  if (stored.length > 0) {
    const rows = await env.db
      .selectFrom('dossiers')
      .select('dossier_code')
      .where('dossier_code', 'in', stored)
      .execute();
    expect(rows.map((row) => row.dossier_code).sort()).toEqual([...stored].sort());
  }
  if (deadLetters.length > 0) {
    const letters = await env.db
      .selectFrom('dead_letters')
      .select('reason')
      .orderBy('id', 'desc')
      .limit(deadLetters.length)
      .execute();
    expect(letters.map((letter) => letter.reason).sort()).toEqual([...deadLetters].sort());
  }
  await testCase.check?.(answer);
});

it('refuses a reused webhook-id with another body (409 webhook_id_reused) and stores nothing of it; the same bytes again are a replay', async () => {
  const id = `dossier-R01-${newWebhookId()}`;
  const first = await deliver(fleet.url, connector, sign(update('R01', { PhienBan: 1, TrangThaiHoSo: '2' }), { id }));
  expect(first.status).toBe(202);
  await writerCaughtUp(fleet.metrics);
  const before = await counts();
  for (const body of [
    update('R01', { PhienBan: 2, TrangThaiHoSo: '4' }),
    [update('R01-x')],
    update('R01', { PhienBan: 2, TrangThaiHoSo: '99' }),
  ]) {
    const answer = await deliver(fleet.url, connector, sign(body, { id }));
    expect({ status: answer.status, code: answer.body.code }).toEqual({ status: 409, code: 'webhook_id_reused' });
    expect(answer.type).toMatch(/^application\/problem\+json/);
    expect(answer.body.detail).toMatch(/not applied.*unique webhook-id per message/);
  }
  await writerCaughtUp(fleet.metrics);
  expect(await counts()).toEqual(before);
  expect(
    await env.db
      .selectFrom('dossiers')
      .select(['status', 'source_version'])
      .where('dossier_code', '=', 'R01')
      .executeTakeFirst(),
  ).toEqual({ status: 2, source_version: '1' });
  const replay = await deliver(fleet.url, connector, sign(update('R01', { PhienBan: 1, TrangThaiHoSo: '2' }), { id }));
  expect({ status: replay.status, body: replay.body, replayed: replay.headers.get('idempotent-replayed') }).toEqual({
    status: 202,
    body: first.body,
    replayed: 'true',
  });
});

it('left no trace of the hostile keys on any prototype, and the tables are intact', async () => {
  expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  expect(({} as Record<string, unknown>).TrangThaiHoSo).toBeUndefined();
  expect(Object.keys(Object.prototype)).toEqual([]);
  expect((await counts()).dossiers).toBeGreaterThan(0);
  // Every stored row came from a case that expected it.
  const expected = [...cases.flatMap((c) => c.effect?.stored ?? []), 'R01'].sort();
  const rows = await env.db.selectFrom('dossiers').select('dossier_code').execute();
  expect(rows.map((row) => row.dossier_code).sort()).toEqual(expected);
});

it('counts deliveries by connector and outcome, never by a made-up connector id', async () => {
  const metrics = await (await fetch(`${fleet.url}/metrics`)).text();
  expect(metrics).toMatch(
    /dossier_sync_webhook_deliveries_total\{connector="hostile-01",outcome="signature_invalid"\} \d+/,
  );
  expect(metrics).toMatch(/dossier_sync_webhook_deliveries_total\{connector="hostile-01",outcome="accepted"\} \d+/);
  expect(metrics).toMatch(
    /dossier_sync_webhook_deliveries_total\{connector="\(unknown\)",outcome="connector_not_found"\} 2/,
  );
  expect(metrics).toMatch(/dossier_sync_webhook_records_total\{connector="hostile-01",outcome="rejected"\} \d+/);
  expect(metrics).toMatch(/dossier_sync_webhook_latency_seconds_count\{province="01"\} \d+/);
  expect(metrics).not.toMatch(/no-such-connector|D16a|whsec_/);
});
