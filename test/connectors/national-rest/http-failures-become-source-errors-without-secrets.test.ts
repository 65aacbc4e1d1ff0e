import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  NationalRestConnector,
  nationalRestConfig,
} from '../../../connectors/national-rest/national-rest-connector.js';
import { SourceError } from '../../../connectors/sdk/source-error.js';
import { SecretUnavailableError } from '../../../connectors/sdk/secrets.js';
import { startProvinceServer, type ProvinceServer } from './province-server.js';
import { checkOnce } from '../check-once.js';

const keyVariable = 'DOSSIER_SYNC_TEST_FAILURE_API_KEY';
const apiKey = 'k-secret-4b8e2d6f90';

let server: ProvinceServer;

beforeAll(async () => {
  process.env[keyVariable] = apiKey;
  server = await startProvinceServer();
});

afterAll(async () => {
  delete process.env[keyVariable];
  await server.close();
});

function connector(): NationalRestConnector {
  return new NationalRestConnector({
    id: 'hcm-rest',
    sourceProvinceCode: '79',
    sourceCodeSet: '2025',
    config: nationalRestConfig.parse({ baseUrl: server.url, apiKey: { env: keyVariable } }),
  });
}

async function readError(source: NationalRestConnector): Promise<SourceError> {
  const error: unknown = await source.read(null).then(
    () => new Error('expected the read to fail'),
    (failure: unknown) => failure,
  );
  if (!(error instanceof SourceError)) throw error;
  return error;
}

describe('an HTTP failure becomes a SourceError a provincial IT team can act on', () => {
  it('401 is not transient, and its message names the connector and status but not the API key', async () => {
    // A careless province system echoes the key it refused.
    server.answer({ status: 401, body: { error: `invalid api key ${apiKey}` } });
    const error = await readError(connector());
    expect(error.transient).toBe(false);
    expect(error.status).toBe(401);
    expect(error.message).toContain('hcm-rest');
    expect(error.message).toContain('401');
    expect(error.message).toContain('credentials');
    expect(error.message).not.toContain(apiKey);
    expect(JSON.stringify(error)).not.toContain(apiKey);
  });

  it('403 and 404 are not transient', async () => {
    server.answer({ status: 403, body: {} });
    expect((await readError(connector())).transient).toBe(false);
    server.answer({ status: 404, body: {} });
    const notFound = await readError(connector());
    expect(notFound.transient).toBe(false);
    expect(notFound.message).toContain('base URL');
  });

  it('503 is transient', async () => {
    server.answer({ status: 503, body: { error: 'maintenance' } });
    const error = await readError(connector());
    expect(error.transient).toBe(true);
    expect(error.status).toBe(503);
    expect(error.message).not.toContain(apiKey);
  });

  it('429 is transient', async () => {
    server.answer({ status: 429, body: {} });
    expect((await readError(connector())).transient).toBe(true);
  });

  it('an answer without an items array is a SourceError saying what is expected', async () => {
    server.answer({ status: 200, body: { dossiers: [] } });
    const error = await readError(connector());
    expect(error.transient).toBe(false);
    expect(error.message).toContain('"items"');
  });

  it('a system that is not listening is a transient SourceError', async () => {
    const closed = await startProvinceServer();
    const url = closed.url;
    await closed.close();
    const source = new NationalRestConnector({
      id: 'hcm-rest',
      sourceProvinceCode: '79',
      sourceCodeSet: '2025',
      config: nationalRestConfig.parse({ baseUrl: url, apiKey: { env: keyVariable } }),
    });
    const error = await readError(source);
    expect(error.transient).toBe(true);
    expect(error.status).toBeNull();
    expect(error.message).not.toContain(apiKey);
  });

  it('check reports a 401 as not ok, without the API key', async () => {
    server.answer({ status: 401, body: { error: `invalid api key ${apiKey}` } });
    const report = await checkOnce(connector());
    expect(report.ok).toBe(false);
    expect(report.message).toContain('401');
    expect(report.message).not.toContain(apiKey);
  });

  it('a connector whose API key variable is unset is built (to map pushes), and its reads fail naming the variable', async () => {
    const connector = new NationalRestConnector({
      id: 'hcm-rest',
      sourceProvinceCode: '79',
      sourceCodeSet: '2025',
      config: nationalRestConfig.parse({ baseUrl: server.url, apiKey: { env: 'DOSSIER_SYNC_TEST_UNSET_KEY' } }),
    });
    const before = server.requests.length;
    await expect(connector.read(null)).rejects.toThrow(SecretUnavailableError);
    await expect(connector.read(null)).rejects.toThrow(/DOSSIER_SYNC_TEST_UNSET_KEY/);
    // Nothing is sent without the key.
    expect(server.requests.length).toBe(before);
  });

  it('a setting it does not know is refused by name, not dropped in silence', () => {
    const parsed = nationalRestConfig.safeParse({ baseUrl: server.url, apiKeyEnv: 'HCM_KEY' });
    expect(parsed.success).toBe(false);
    expect(JSON.stringify(parsed.error?.issues)).toContain('apiKeyEnv');
  });
});
