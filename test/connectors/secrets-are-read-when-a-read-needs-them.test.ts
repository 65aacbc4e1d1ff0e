import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { parseDefinitionText } from '../../workers/control-plane/definition.js';
import { createConnector } from '../../connectors/plugins.js';
import { canRead, type ReadableConnector } from '../../connectors/sdk/connector.js';
import { SecretUnavailableError } from '../../connectors/sdk/secrets.js';

// A connector is built wherever its records are mapped — the gateway maps pushed updates with it — but only a
// read needs the province system's credentials. Building needs none; a read without them fails naming the
// missing reference (never a value) and sends nothing.

/** The example's connector, built as the fleet builds it; every example here is of a system that can be read. */
function readableConnector(definition: ReturnType<typeof parseDefinitionText>): ReadableConnector {
  const connector = createConnector({
    id: definition.id,
    sourceProvinceCode: definition.sourceProvinceCode,
    sourceCodeSet: definition.sourceCodeSet,
    kind: definition.kind,
    config: definition.config,
  });
  if (!canRead(connector)) throw new Error(`${definition.id} cannot be read`);
  return connector;
}

const examples = [
  { file: 'hcm-igate.yaml', variable: 'HCM_IGATE_CLIENT_SECRET' },
  { file: 'cantho-dvc.yaml', variable: 'CANTHO_DVC_API_KEY' },
  { file: 'hanoi-lgsp.yaml', variable: 'HANOI_LGSP_PASSWORD' },
];

let server: Server;
let baseUrl: string;
let requests = 0;
beforeAll(async () => {
  for (const { variable } of examples) delete process.env[variable];
  server = createServer((_request, response) => {
    requests += 1;
    response.writeHead(500).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

it.each(examples)(
  '$file is built without its secret, and a read fails naming $variable, sending nothing',
  async ({ file, variable }) => {
    const text = (await readFile(new URL(`../../connectors/examples/${file}`, import.meta.url), 'utf8')).replaceAll(
      'http://127.0.0.1:9090',
      baseUrl,
    );
    const definition = parseDefinitionText(text, file);
    const connector = readableConnector(definition);

    const read = connector.read(connector.startFrom(null));
    await expect(read).rejects.toThrow(SecretUnavailableError);
    await expect(connector.read(connector.startFrom(null))).rejects.toThrow(
      new RegExp(`environment variable ${variable} is not set`),
    );
    expect(requests).toBe(0);
  },
);

it('a secret set later is read by the next read, without rebuilding the connector', async () => {
  const text = (
    await readFile(new URL('../../connectors/examples/cantho-dvc.yaml', import.meta.url), 'utf8')
  ).replaceAll('http://127.0.0.1:9090', baseUrl);
  const definition = parseDefinitionText(text, 'cantho-dvc.yaml');
  const connector = readableConnector(definition);
  await expect(connector.read(connector.startFrom(null))).rejects.toThrow(SecretUnavailableError);
  process.env.CANTHO_DVC_API_KEY = 'mounted-later';
  try {
    // Now the request is sent (the test server answers 500).
    await expect(connector.read(connector.startFrom(null))).rejects.toThrow(/HTTP 500/);
    expect(requests).toBe(1);
  } finally {
    delete process.env.CANTHO_DVC_API_KEY;
  }
});
