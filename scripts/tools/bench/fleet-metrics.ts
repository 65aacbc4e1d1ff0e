// Reading a fleet process's /metrics: the few sums the bench follows a phase by.

/** Sums the samples of `metric` whose labels include every one of `labels` (Prometheus text format). */
export function sumSamples(text: string, metric: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${metric}{`) && !line.startsWith(`${metric} `)) continue;
    const labelText = /\{(.*)\}/.exec(line)?.[1] ?? '';
    if (!Object.entries(labels).every(([name, value]) => labelText.includes(`${name}="${value}"`))) continue;
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (Number.isFinite(value)) sum += value;
  }
  return sum;
}

/** GET <url>/metrics as text; fails with the status when the process does not answer 200. */
export async function scrape(url: string): Promise<string> {
  const response = await fetch(`${url}/metrics`);
  if (!response.ok) throw new Error(`bench: ${url}/metrics answered ${response.status}; expected 200`);
  return response.text();
}
