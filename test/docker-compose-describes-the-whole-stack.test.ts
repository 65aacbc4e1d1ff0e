import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { parse } from 'yaml';

// docker-compose.yml: the whole stack, as Compose itself reads it (`config -q`, then the resolved file). No Docker
// engine is needed: only the client, `docker compose` or the older `docker-compose`; without either the test skips.

const root = fileURLToPath(new URL('..', import.meta.url));
const placeholders = { POSTGRES_PASSWORD: 'test-placeholder', GRAFANA_ADMIN_PASSWORD: 'test-placeholder' };

/** The Compose client on this machine, if any. */
function composeCommand(): string[] | null {
  if (spawnSync('docker', ['compose', 'version'], { stdio: 'ignore' }).status === 0) return ['docker', 'compose'];
  if (spawnSync('docker-compose', ['version'], { stdio: 'ignore' }).status === 0) return ['docker-compose'];
  return null;
}

const compose = composeCommand();
if (!compose) console.warn('docker compose (or docker-compose) is not on PATH: docker-compose.yml is not validated');

const run = (args: string[], env: Record<string, string> = placeholders) =>
  execFileSync(compose![0]!, [...compose!.slice(1), '-f', 'docker-compose.yml', ...args], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });

interface Service {
  command?: string[];
  deploy?: { replicas?: number };
  environment?: Record<string, string>;
  volumes?: (string | { source: string; target: string })[];
}

it.skipIf(!compose)('is a valid Compose file that runs every role, Redis as DESIGN.md asks, and the monitoring', () => {
  run(['config', '-q']);
  const services = (parse(run(['config'])) as { services: Record<string, Service> }).services;

  const redis = services.redis!.command!.join(' ');
  expect(redis).toContain('--appendonly yes');
  expect(redis).toContain('--maxmemory-policy noeviction');
  expect(services.postgres).toBeDefined();

  const roles = Object.fromEntries(
    Object.entries(services)
      .filter(([, service]) => service.command?.[0] === '--role')
      .map(([name, service]) => [service.command![1]!, { name, replicas: service.deploy?.replicas ?? 1 }]),
  );
  expect(Object.keys(roles).sort()).toEqual(['gateway', 'poller', 'reconciler', 'scheduler', 'writer']);
  expect(roles.poller!.replicas).toBeGreaterThanOrEqual(2);
  expect(roles.writer!.replicas).toBeGreaterThanOrEqual(2);
  expect(services.migrate!.command).toEqual(['migrate']);
  for (const { name } of Object.values(roles)) {
    const environment = services[name]!.environment!;
    expect(environment.REDIS_URL, name).toBe('redis://redis:6379');
    expect(environment.DATABASE_URL, name).toMatch(/@postgres:5432\//);
  }

  const mounts = (service: Service) =>
    (service.volumes ?? []).map((volume) =>
      typeof volume === 'string' ? volume.split(':').slice(0, 2).join(':') : `${volume.source}:${volume.target}`,
    );
  expect(mounts(services.prometheus!)).toContain(`${root}config/prometheus:/etc/prometheus`);
  expect(mounts(services.grafana!)).toEqual(
    expect.arrayContaining([
      `${root}config/grafana/provisioning:/etc/grafana/provisioning`,
      `${root}config/grafana/dashboards:/var/lib/grafana/dashboards`,
    ]),
  );
});

it.skipIf(!compose)('refuses to start without the passwords it needs, naming them', () => {
  expect(() => run(['config', '-q'], {})).toThrow(/POSTGRES_PASSWORD/);
});

it('has no password or key written in the file itself', () => {
  const text = readFileSync(new URL('../docker-compose.yml', import.meta.url), 'utf8');
  for (const line of text.split('\n').filter((l) => /PASSWORD|SECRETS_KEY/.test(l) && !l.trim().startsWith('#')))
    // Required (`:?`) or empty by default (`:-}`), never a default value.
    expect(line).toMatch(/\$\{[A-Z_]+(:\?|:-\})/);
});
