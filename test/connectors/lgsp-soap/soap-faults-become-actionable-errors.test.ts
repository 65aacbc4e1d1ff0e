import { afterAll, beforeAll, expect, it } from 'vitest';
import { LgspSoapConnector, lgspSoapConfig } from '../../../connectors/lgsp-soap/lgsp-soap-connector.js';
import type { ReadState } from '../../../connectors/sdk/connector.js';
import { mapItems } from '../../../connectors/sdk/normalise.js';
import { ProvinceSimulator } from '../../../scripts/tools/simulator/province-simulator.js';
import { checkOnce } from '../check-once.js';

let simulator: ProvinceSimulator;
let url: string;
beforeAll(async () => {
  simulator = new ProvinceSimulator({
    provinces: ['01'],
    dossiersPerProvince: 450,
    paused: true,
    malformedRate: 0.02,
    credentials: { username: 'lgsp-user', password: 'lgsp-password' },
  });
  url = await simulator.start();
});
afterAll(async () => simulator?.stop());

const connector = (password: string) => {
  process.env.TEST_LGSP_PASSWORD = password;
  return new LgspSoapConnector({
    id: 'hanoi-lgsp',
    sourceProvinceCode: '01',
    sourceCodeSet: '2025',
    config: lgspSoapConfig.parse({
      baseUrl: url,
      username: 'lgsp-user',
      password: { env: 'TEST_LGSP_PASSWORD' },
      pageSize: 200,
    }),
  });
};

it('pages through every dossier by offset and maps Vietnamese labels and dd/MM/yyyy times', async () => {
  const source = connector('lgsp-password');
  const items: unknown[] = [];
  for (let state: ReadState | null = source.startFrom(null); state !== null;) {
    const page = await source.read(state);
    items.push(...page.items);
    state = page.next;
  }
  expect(items).toHaveLength(450);
  const { records, deadLetters } = mapItems(source, items, {
    connectorId: 'hanoi-lgsp',
    sourceProvinceCode: '01',
    sourceCodeSet: '2025',
    observedAt: new Date(),
  });
  const truth = [...simulator.truth()];
  expect(deadLetters.map((letter) => letter.reason).sort()).toEqual(
    truth
      .filter((row) => row.malformed)
      .map((row) => row.malformed)
      .sort(),
  );
  for (const record of records) {
    const expected = truth.find((row) => row.dossierCode === record.dossierCode)!;
    expect({ status: record.status, version: record.sourceVersion, updatedAt: record.sourceUpdatedAt }).toEqual({
      status: expected.status,
      version: expected.version,
      updatedAt: expected.updatedAt,
    });
  }
  expect(JSON.stringify(deadLetters)).not.toMatch(/"HoTen":"[^[]/);
});

it('turns an authentication fault into an error that names what to check, without the password, and is not retried', async () => {
  const report = await checkOnce(connector('wrong-password'));
  expect(report.ok).toBe(false);
  expect(report.message).toMatch(/SOAP fault soap:Client: .*; check the gateway user name and the password reference/);
  expect(report.message).not.toContain('wrong-password');
  await expect(connector('wrong-password').read(null)).rejects.toMatchObject({ transient: false });
});
