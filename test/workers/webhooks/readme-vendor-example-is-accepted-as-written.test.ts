import { readdirSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { parse } from 'yaml';
import { startFleet, type Fleet } from '../../../workers/fleet.js';
import { createLogger } from '../../../workers/logger.js';
import { ConnectorRegistry, definitionFromText } from '../../../workers/control-plane/connector-registry.js';
import { cliActor } from '../../../workers/control-plane/audit.js';
import { createTestEnvironment, waitFor, type TestEnvironment } from '../../support/test-environment.js';
import { deliver, issueSecret, signed, testSecretsKey } from './webhook-client.js';

// The README shows a vendor how to push, in C# and Java. What it shows must work as written: the body it
// posts, to the connector its URL names — registered from that connector's example definition — is taken
// whole (202, every update accepted) and stored.

const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
const examplesFolder = new URL('../../../connectors/examples/', import.meta.url);

/** The vendor examples of the README's Webhooks section: each code block's language, body and target connector. */
function vendorExamples(): { language: string; body: string; connectorId: string }[] {
  const section = readme.slice(readme.indexOf('**Signing, as a vendor.**'), readme.indexOf('**Note for gateways.**'));
  const blocks = [...section.matchAll(/```(\w+)\n([\s\S]*?)```/g)];
  return blocks.map(([, language, code]) => {
    // `var body = "…";` (C#) or `String body = "…";` (Java): a string literal with \" and \\ escapes.
    const literal = /\bbody = "((?:[^"\\]|\\.)*)";/.exec(code!)?.[1];
    const connectorId = /\/v1\/webhooks\/([a-z0-9-]+)"/.exec(code!)?.[1];
    if (literal === undefined || connectorId === undefined)
      throw new Error(`the ${language} example has no body literal or no webhook URL`);
    return { language: language!, body: literal.replace(/\\(["\\])/g, '$1'), connectorId };
  });
}

/** The example definition file whose connector has this id. */
function exampleDefinition(connectorId: string): { file: string; text: string } {
  for (const file of readdirSync(examplesFolder).filter((name) => name.endsWith('.yaml'))) {
    const text = readFileSync(new URL(file, examplesFolder), 'utf8');
    if ((parse(text) as { id?: string }).id === connectorId) return { file, text };
  }
  throw new Error(
    `no definition in connectors/examples/ has the id ${connectorId}, the connector the README's example posts to`,
  );
}

const secretsKey = testSecretsKey();
let env: TestEnvironment;
let fleet: Fleet;

beforeAll(async () => {
  env = await createTestEnvironment({ SECRETS_KEY: secretsKey });
  fleet = await startFleet(env.config, ['gateway', 'writer'], createLogger('silent'));
});
afterAll(async () => {
  await fleet?.stop();
  await env?.cleanup();
});

it('has a C# and a Java example posting the same body to the same connector', () => {
  const examples = vendorExamples();
  expect(examples.map((example) => example.language)).toEqual(['csharp', 'java']);
  expect(new Set(examples.map((example) => example.body)).size).toBe(1);
  expect(new Set(examples.map((example) => example.connectorId)).size).toBe(1);
});

it("takes the README's example body whole at the example connector it is posted to, and stores it", async () => {
  const { body, connectorId } = vendorExamples()[0]!;
  const { file, text } = exampleDefinition(connectorId);
  await new ConnectorRegistry(env.db).add(definitionFromText(text, file), { actor: cliActor() });
  const secret = await issueSecret(env.db, secretsKey, connectorId, 0);

  const answer = await deliver(fleet.url, connectorId, signed(secret, body));
  expect(answer.status).toBe(202);
  const updates = [JSON.parse(body) as unknown].flat();
  expect(answer.body).toMatchObject({ accepted: updates.length, rejected: 0 });
  expect(answer.body.errors).toBeUndefined();

  await waitFor(
    async () =>
      (await env.db.selectFrom('dossiers').select('dossier_code').where('connector_id', '=', connectorId).execute())
        .length === updates.length,
    'the example updates stored',
    20_000,
    20,
  );
  const { count } = await env.db
    .selectFrom('dead_letters')
    .select((eb) => eb.fn.countAll<string>().as('count'))
    .executeTakeFirstOrThrow();
  expect(Number(count)).toBe(0);
});
