import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

// The rules in config/prometheus are valid, every alert is unit-tested by promtool (tests/*.yml) and links its
// runbook section. .ci/run installs promtool (Debian's prometheus package); without it the promtool part is skipped.

const dir = fileURLToPath(new URL('../../config/prometheus/', import.meta.url));
const promtool = spawnSync('promtool', ['--version']).status === 0;
const alerts = [...readFileSync(`${dir}alert-rules.yml`, 'utf8').matchAll(/- alert: (\w+)/g)].map((m) => m[1]!);

it.skipIf(!promtool)(
  'passes promtool check rules and every promtool unit test (skipped when promtool is not installed)',
  () => {
    const run = (args: string[]) => execFileSync('promtool', args, { cwd: dir, encoding: 'utf8', stdio: 'pipe' });
    expect(run(['check', 'rules', 'recording-rules.yml', 'alert-rules.yml'])).toContain('SUCCESS');
    const tests = readdirSync(`${dir}tests`).map((name) => `tests/${name}`);
    expect(run(['test', 'rules', ...tests])).not.toContain('FAILED');
  },
);

it('tests every alert with promtool and links each to its own runbook section', () => {
  const tests = readdirSync(`${dir}tests`)
    .map((name) => readFileSync(`${dir}tests/${name}`, 'utf8'))
    .join('\n');
  const runbook = readFileSync(`${dir}RUNBOOK.md`, 'utf8');
  const rules = readFileSync(`${dir}alert-rules.yml`, 'utf8');
  expect(alerts.length).toBeGreaterThan(10);
  for (const alert of alerts) {
    expect(tests, `a promtool test expecting ${alert} to fire`).toMatch(
      new RegExp(`alertname: ${alert}\\n\\s+exp_alerts:\\n\\s+- exp_labels`),
    );
    expect(runbook, `a runbook section for ${alert}`).toContain(`\n## ${alert}\n`);
    expect(rules, `${alert}'s runbook_url`).toContain(`RUNBOOK.md#${alert.toLowerCase()}"`);
  }
});
