import { createServer, type Server } from 'node:http';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runFleet } from '../../support/fleet-process.js';

// `fleet connector check` does not let a mistake pass in silence: a page with any record that would be
// dead-lettered exits 1 (unless a known share is accepted), a mapped path that no record of the page has is
// a warning naming what it costs, and every field that would be stored is shown, province and version
// included, each date in Vietnam time beside what the source wrote.

let server: Server;
let baseUrl: string;
let dir: string;

/** A Cần Thơ-style record: filed in Hậu Giang (2008 code 93), yyyyMMddHHmmss Vietnam times, a version counter. */
const record = (index: number, status: string) => ({
  ma_ho_so: `000.00.93.H93-261120-${String(index).padStart(4, '0')}`,
  ma_tinh: '93',
  bo_ma: '2008',
  ma_thu_tuc: '1.004227',
  kenh: 2,
  trang_thai: status,
  ngay_nop: '20261120083000',
  han_xu_ly: '20261204170000',
  ngay_hoan_thanh: null,
  cap_nhat_luc: '20261127080000',
  phien_ban: 7,
  ho_ten: 'Nguyễn Thị Hoa',
});
// 3 good records, then 17 whose status the definition does not map: 85% of the page.
const page = [
  ...Array.from({ length: 3 }, (_, index) => record(index, 'TT04')),
  ...Array.from({ length: 17 }, (_, index) => record(index + 3, 'TT99')),
];

const definition = (id: string, fields: Record<string, string>) => `id: ${id}
province: { code: '92' }
http: { baseUrl: '${baseUrl}' }
request: { path: /records, query: { since: '{{cursor}}' } }
incremental: { cursorField: cap_nhat_luc, cursorFormat: yyyyMMddHHmmss }
records: { path: records }
fields:
${Object.entries(fields)
  .map(([field, path]) => `  ${field}: ${path}`)
  .join('\n')}
statuses: { map: { TT04: 4 } }
`;
const rightPaths = {
  dossierCode: 'ma_ho_so',
  provinceCode: 'ma_tinh',
  provinceCodeSet: 'bo_ma',
  procedureCode: 'ma_thu_tuc',
  channel: 'kenh',
  status: 'trang_thai',
  submittedAt: 'ngay_nop',
  dueAt: 'han_xu_ly',
  finishedAt: 'ngay_hoan_thanh',
  sourceVersion: 'phien_ban',
};
const file = (name: string) => join(dir, name);
const check = (...args: string[]) => runFleet(['connector', 'check', ...args], { LOG_LEVEL: 'silent' });

beforeAll(async () => {
  server = createServer((_request, response) => {
    response.setHeader('content-type', 'application/json');
    response.end(JSON.stringify({ records: page }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  dir = await mkdtemp(join(tmpdir(), 'connector-check-'));
  await writeFile(file('right.yaml'), definition('cantho-dvc', rightPaths));
  await writeFile(
    file('mistyped.yaml'),
    definition('cantho-dvc', { ...rightPaths, provinceCode: 'ma_tinh_x', sourceVersion: 'phienban' }),
  );
});
afterAll(async () => {
  await new Promise((resolve) => server?.close(resolve));
  await rm(dir, { recursive: true, force: true });
});

describe('dead letters', () => {
  it('exits 1 when any record of the page would be dead-lettered, naming the share', async () => {
    const { code, output } = await check('--file', file('right.yaml'));
    expect(code).toBe(1);
    expect(output).toMatch(/^3 would be stored, for example:$/m);
    expect(output).toMatch(/^17 would be dead-lettered:$/m);
    expect(output).toMatch(
      /^check failed: 17 of 20 records \(85%\) would be dead-lettered, more than the 0% accepted; fix the definition or the records, or accept a known share with --accept-dead-letters 85$/m,
    );
  });

  it('exits 0 when --accept-dead-letters accepts a share at or above the actual one, 1 below it', async () => {
    const [at, above, below] = await Promise.all([
      check('--file', file('right.yaml'), '--accept-dead-letters', '85'),
      check('--file', file('right.yaml'), '--accept-dead-letters', '90%'),
      check('--file', file('right.yaml'), '--accept-dead-letters', '84.9'),
    ]);
    expect(at.code).toBe(0);
    expect(at.output).toMatch(/^17 of 20 records \(85%\) would be dead-lettered: within the 85% accepted$/m);
    expect(above.code).toBe(0);
    expect(below.code).toBe(1);
    expect(below.output).toMatch(/more than the 84\.9% accepted/);
  }, 300_000);

  it('refuses a share that is not a percentage with exit 2 and one line', async () => {
    const bad = ['abc', '101', '-1', '', '5 %', '1e2'];
    const runs = await Promise.all(
      bad.map((share) => check('--file', file('right.yaml'), '--accept-dead-letters', share)),
    );
    runs.forEach(({ code, output }, index) => {
      expect(code, bad[index]).toBe(2);
      expect(output.trim()).toBe(
        `fleet connector check: --accept-dead-letters ${JSON.stringify(bad[index])}: expected a percentage from 0 to 100, such as 5 or 2.5`,
      );
    });
  }, 300_000);
});

describe('what would be stored', () => {
  it('shows every field of an example, province as stored and as given, version, and dates in Vietnam time beside what the source wrote', async () => {
    const { output } = await check('--file', file('right.yaml'), '--accept-dead-letters', '85');
    expect(output).toMatch(/^ {2}000\.00\.93\.H93-261120-0000$/m);
    expect(output).toMatch(
      /^ {4}provinceCode +92 +from ma_tinh "93" \(code set 2008's 93, stored under its successor 92\)$/m,
    );
    expect(output).toMatch(/^ {4}provinceCodeSet +2008 +from bo_ma "2008"$/m);
    expect(output).toMatch(/^ {4}status +4 +from trang_thai "TT04"$/m);
    expect(output).toMatch(/^ {4}channel +2 +from kenh 2$/m);
    expect(output).toMatch(/^ {4}submittedAt +2026-11-20T08:30:00\+07:00 +from ngay_nop "20261120083000"$/m);
    expect(output).toMatch(/^ {4}dueAt +2026-12-04T17:00:00\+07:00 +from han_xu_ly "20261204170000"$/m);
    expect(output).toMatch(/^ {4}finishedAt +- +from ngay_hoan_thanh null$/m);
    expect(output).toMatch(/^ {4}sourceUpdatedAt +2026-11-27T08:00:00\+07:00 +from cap_nhat_luc "20261127080000"$/m);
    expect(output).toMatch(/^ {4}sourceVersion +7 +from phien_ban 7$/m);
    expect(output).not.toContain('Nguyễn Thị Hoa');
    expect(output).not.toMatch(/^warning:/m);
  });

  it('warns for a mistyped provinceCode and sourceVersion path that no record has, and shows what they fall back to', async () => {
    const { output } = await check('--file', file('mistyped.yaml'), '--accept-dead-letters', '85');
    expect(output).toMatch(
      /^warning: provinceCode: none of the 20 records has "ma_tinh_x": every record would be stored under the connector's own province 92 \(code set 2025\); check the path$/m,
    );
    expect(output).toMatch(
      /^warning: sourceVersion: none of the 20 records has "phienban": every version would fall back to the update time in epoch milliseconds; check the path$/m,
    );
    expect(output.match(/^warning:/gm)).toHaveLength(2);
    expect(output).toMatch(
      /^ {4}provinceCode +92 +from ma_tinh_x \(absent\) \(none in the record: the connector's own province\)$/m,
    );
    expect(output).toMatch(
      new RegExp(
        `^ {4}sourceVersion +${Date.UTC(2026, 10, 27, 1)} +from phienban \\(absent\\) \\(none in the record: the update time in epoch milliseconds\\)$`,
        'm',
      ),
    );
  });
});
