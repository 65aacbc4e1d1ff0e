import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runFleet } from '../../support/fleet-process.js';
import { createTestEnvironment, type TestEnvironment } from '../../support/test-environment.js';

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

let env: TestEnvironment;
beforeAll(async () => {
  env = await createTestEnvironment();
});
afterAll(async () => env.cleanup());

describe('the fleet command on bad input', () => {
  it('rejects a DATABASE_URL that is not a postgres URL with exit 2, naming the variable and what is expected', async () => {
    const { code, output } = await runFleet(['migrate'], { DATABASE_URL: 'mysql://root:hunter2@db/x' });
    expect(code).toBe(2);
    expect(output.trim().split('\n')).toHaveLength(1);
    expect(output).toMatch(/DATABASE_URL/);
    expect(output).toMatch(/expected a URL such as postgres:\/\//);
    expect(output).not.toContain('hunter2');
  });

  it('says which Postgres it could not reach, without the password', async () => {
    const port = await closedPort();
    const { code, output } = await runFleet(['migrate'], {
      DATABASE_URL: `postgres://postgres:hunter2@127.0.0.1:${port}/x`,
    });
    expect(code).toBe(1);
    expect(output).toMatch(
      new RegExp(`cannot use Postgres at postgres://postgres:\\*\\*\\*@127\\.0\\.0\\.1:${port}/x \\(DATABASE_URL\\)`),
    );
    expect(output).toMatch(/ECONNREFUSED/);
    expect(output).not.toContain('hunter2');
  });

  it('says which Redis it could not reach', async () => {
    const port = await closedPort();
    const { code, output } = await runFleet(['start'], {
      DATABASE_URL: env.config.DATABASE_URL,
      REDIS_URL: `redis://127.0.0.1:${port}`,
      HTTP_PORT: '0',
    });
    expect(code).toBe(1);
    expect(output).toMatch(new RegExp(`cannot reach Redis at redis://127\\.0\\.0\\.1:${port} \\(REDIS_URL\\)`));
    expect(output).toMatch(/expected a running Redis/);
  });

  it('rejects a bad HTTP_PORT with exit 2', async () => {
    const { code, output } = await runFleet(['start'], { HTTP_PORT: 'eighty' });
    expect(code).toBe(2);
    expect(output).toMatch(/HTTP_PORT="eighty" is invalid: expected a whole number from 0 to 65535/);
  });

  it('prints usage for an unknown verb, with exit 2', async () => {
    const { code, output } = await runFleet(['frobnicate'], {});
    expect(code).toBe(2);
    expect(output).toMatch(/unknown command 'frobnicate'/);
    expect(output).toMatch(/Usage: fleet/);
  });

  it('rejects an unknown role with exit 2', async () => {
    const { code, output } = await runFleet(['start', '--role', 'janitor'], {
      ...(env.config as unknown as Record<string, string>),
    });
    expect(code).toBe(2);
    expect(output).toMatch(
      /--role "janitor" is not a role; expected all, or one or more of gateway, poller, writer, scheduler, reconciler/,
    );
  });

  it('migrates idempotently', async () => {
    const config = { DATABASE_URL: env.config.DATABASE_URL };
    const again = await runFleet(['migrate'], config);
    expect(again).toMatchObject({ code: 0 });
    expect(again.output).toMatch(/schema already up to date/);
  });
});
