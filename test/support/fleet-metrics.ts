import { sparePort } from './own-services.js';
import { spawnFleet, type FleetProcess } from './fleet-process.js';
import { waitFor } from './test-environment.js';

/** One metric family of a /metrics page: its type and every label set of its samples. */
export interface MetricFamily {
  type: string;
  samples: { name: string; labels: Record<string, string>; value: number }[];
}

/** Reads the Prometheus text exposition format into families by name (the # TYPE lines name them). */
export function parseMetrics(text: string): Map<string, MetricFamily> {
  const families = new Map<string, MetricFamily>();
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) families.set(type[1]!, { type: type[2]!, samples: [] });
    const sample = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)/.exec(line);
    if (!sample || line.startsWith('#')) continue;
    const name = sample[1]!;
    const family = families.get(name) ?? families.get(name.replace(/_(bucket|sum|count)$/, '')) ?? families.get(name);
    const labels: Record<string, string> = {};
    for (const [, key, value] of (sample[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[key!] = value!;
    family?.samples.push({ name, labels, value: Number(sample[3]) });
  }
  return families;
}

/** A `fleet start` child process on a port of its own, up once its /metrics answers. */
export async function startFleetServing(
  roles: string,
  config: Record<string, unknown>,
): Promise<{ process: FleetProcess; url: string }> {
  const port = await sparePort();
  const process = spawnFleet(['start', '--role', roles], {
    ...config,
    HTTP_PORT: String(port),
    LOG_LEVEL: 'warn',
  } as Record<string, string>);
  const url = `http://127.0.0.1:${port}`;
  await waitFor(
    async () => (await fetch(`${url}/metrics`).catch(() => null))?.ok === true,
    `fleet --role ${roles} serving /metrics; it printed: ${process.output().slice(-2000)}`,
  );
  return { process, url };
}
