import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { FleetMetrics } from '../../workers/metrics.js';
import { namesInPromql, namesInVariableQuery, unknownNames, type ExportedMetric } from '../support/promql-names.js';

// Every metric a Grafana dashboard (config/grafana/dashboards) or a Prometheus rule (config/prometheus) names is
// one the fleet exports, or a recording rule of recording-rules.yml: a renamed metric cannot leave a dashboard
// panel empty or an alert silent. The names come from tokenising each PromQL expression (test/support/
// promql-names.ts); the fleet's names from the registry its /metrics serves (FleetMetrics). The dashboards are
// also checked for the shape Grafana imports and for the datasource variable on every panel.

const root = fileURLToPath(new URL('../../', import.meta.url));
const dashboardDir = `${root}config/grafana/dashboards/`;
const prometheusDir = `${root}config/prometheus/`;

type Json = Record<string, unknown>;
interface Panel extends Json {
  id?: number;
  type?: string;
  title?: string;
  description?: string;
  datasource?: { type?: string; uid?: string };
  gridPos?: { x?: number; y?: number; w?: number; h?: number };
  targets?: { refId?: string; expr?: string; datasource?: { type?: string; uid?: string } }[];
  panels?: Panel[];
  repeat?: string;
}
interface Dashboard extends Json {
  uid?: string;
  title?: string;
  schemaVersion?: number;
  panels?: Panel[];
  templating?: { list?: Json[] };
}
interface Rule {
  record?: string;
  alert?: string;
  expr?: string;
}

/** One PromQL expression and where it is written. */
interface Expression {
  where: string;
  expr: string;
  /** A Grafana templating query (`label_values(…)`) rather than PromQL. */
  variableQuery?: boolean;
}

const dashboards: { file: string; dashboard: Dashboard }[] = readdirSync(dashboardDir)
  .filter((name) => name.endsWith('.json'))
  .map((file) => ({ file, dashboard: JSON.parse(readFileSync(`${dashboardDir}${file}`, 'utf8')) as Dashboard }));

const ruleFiles = readdirSync(prometheusDir).filter((name) => name.endsWith('-rules.yml'));
const rulesOf = (file: string): Rule[] =>
  ((parse(readFileSync(`${prometheusDir}${file}`, 'utf8')) as { groups: { rules: Rule[] }[] }).groups ?? []).flatMap(
    (group) => group.rules,
  );
const recorded = new Set(rulesOf('recording-rules.yml').flatMap((rule) => (rule.record ? [rule.record] : [])));

/** Every panel, those inside a collapsed row included. */
const allPanels = (panels: Panel[] = []): Panel[] => panels.flatMap((panel) => [panel, ...allPanels(panel.panels)]);

const variablesOf = (dashboard: Dashboard) => dashboard.templating?.list ?? [];

function dashboardExpressions(file: string, dashboard: Dashboard): Expression[] {
  const panels = allPanels(dashboard.panels).flatMap((panel) =>
    (panel.targets ?? []).map((target) => ({
      where: `${file}: panel "${panel.title}" ${target.refId}`,
      expr: target.expr ?? '',
    })),
  );
  const variables = variablesOf(dashboard)
    .filter((variable) => variable.type === 'query')
    .map((variable) => {
      const query = variable.query as string | { query?: string } | undefined;
      return {
        where: `${file}: variable ${String(variable.name)}`,
        expr: typeof query === 'string' ? query : (query?.query ?? ''),
        variableQuery: true,
      };
    });
  return [...panels, ...variables];
}

function ruleExpressions(): Expression[] {
  const rules = ruleFiles.flatMap((file) =>
    rulesOf(file).map((rule) => ({ where: `${file}: ${rule.alert ?? rule.record}`, expr: rule.expr ?? '' })),
  );
  // The promtool unit tests' input series and expressions: a series of a name nobody exports tests nothing.
  const tests = readdirSync(`${prometheusDir}tests`).flatMap((file) => {
    const doc = parse(readFileSync(`${prometheusDir}tests/${file}`, 'utf8')) as {
      tests: { input_series?: { series: string }[]; promql_expr_test?: { expr: string }[] }[];
    };
    return doc.tests.flatMap((test, i) => [
      ...(test.input_series ?? []).map((s) => ({ where: `tests/${file} #${i} input series`, expr: s.series })),
      ...(test.promql_expr_test ?? []).map((t) => ({ where: `tests/${file} #${i} promql_expr_test`, expr: t.expr })),
    ]);
  });
  return [...rules, ...tests];
}

/** What is wrong with these expressions: a name neither exported nor recorded, or an expression that cannot be read. */
function problemsOf(expressions: Expression[], exported: ExportedMetric[], known: Set<string>): string[] {
  return expressions.flatMap(({ where, expr, variableQuery }) => {
    if (expr.trim() === '') return [`${where}: no expression`];
    const names = variableQuery ? namesInVariableQuery(expr) : namesInPromql(expr);
    const unread = names.problems.map((problem) => `${where}: ${problem}`);
    if (names.metrics.length === 0 && !variableQuery) unread.push(`${where}: names no metric`);
    return [...unread, ...unknownNames(names.metrics, exported, known).map((unknown) => `${where}: ${unknown}`)];
  });
}

/**
 * The metrics of the registry a fleet process serves at /metrics: FleetMetrics, with the gauges the gateway adds
 * (workers/fleet.ts: dead letters, failed batches and reconcile runs, read from Postgres there, from nothing here).
 * test/workers/metrics-are-the-documented-list checks what a running fleet serves is this list.
 */
function exportedMetrics(): ExportedMetric[] {
  const metrics = new FleetMetrics();
  metrics.watchDeadLetters(() => Promise.resolve([]));
  metrics.watchFailedBatches(() => Promise.resolve([]));
  metrics.watchReconcileRuns(() =>
    Promise.resolve({ runs: [], mismatches: [], repaired: [], lastMatch: [], lastRun: [] }),
  );
  return metrics.registry.getMetricsAsArray().map((metric) => ({ name: metric.name, type: String(metric.type) }));
}

const exported = exportedMetrics();
const datasource = { type: 'prometheus', uid: '${datasource}' };

it('reads the fleet registry and every dashboard and rule file', () => {
  expect(exported.filter((metric) => metric.name.startsWith('dossier_sync_')).length).toBeGreaterThanOrEqual(26);
  expect(dashboards.map((one) => one.file).sort()).toEqual(['connector.json', 'overview.json']);
  expect(ruleFiles.sort()).toEqual(['alert-rules.yml', 'recording-rules.yml']);
  expect(recorded.size).toBeGreaterThan(5);
});

it('names, in every dashboard panel, templating query and rule, only metrics the fleet exports or rules record', () => {
  const expressions = [
    ...dashboards.flatMap(({ file, dashboard }) => dashboardExpressions(file, dashboard)),
    ...ruleExpressions(),
  ];
  expect(expressions.length).toBeGreaterThan(100);
  expect(problemsOf(expressions, exported, recorded)).toEqual([]);
  // The names really were found: every dossier_sync metric the dashboards read is among them.
  const named = new Set(expressions.flatMap((e) => (e.variableQuery ? [] : namesInPromql(e.expr).metrics)));
  expect(named).toContain('dossier_sync_commit_lag_seconds_bucket');
  expect(named).toContain('province_origin:dossier_sync_commit_within_target:ratio_rate1h');
});

const promtool = spawnSync('promtool', ['--version']).status === 0;

it.skipIf(!promtool)(
  "parses as PromQL in promtool, every dashboard panel's query with its variables filled in (skipped without promtool)",
  () => {
    // Grafana fills the variables in before Prometheus sees a query: a province, a connector, the intervals.
    const filled: Record<string, string> = {
      province: '01',
      connector: 'ha-noi-one-stop',
      __rate_interval: '1m',
      __interval: '15s',
      __range: '6h',
    };
    const fill = (expr: string) => expr.replace(/\$\{?(\w+)\}?/g, (whole, name: string) => filled[name] ?? whole);
    const rules = dashboards.flatMap(({ file, dashboard }) =>
      allPanels(dashboard.panels).flatMap((panel) =>
        (panel.targets ?? []).map((target) => ({
          record: `dashboard:${file.replace(/\W/g, '_')}:${panel.id}_${target.refId}`,
          expr: fill(target.expr!),
        })),
      ),
    );
    const dir = mkdtempSync(`${tmpdir()}/dashboard-queries-`);
    try {
      writeFileSync(`${dir}/queries.yml`, stringify({ groups: [{ name: 'dashboard-queries', rules }] }));
      const run = spawnSync('promtool', ['check', 'rules', `${dir}/queries.yml`], { encoding: 'utf8' });
      expect(run.stdout + run.stderr).toContain(`SUCCESS: ${rules.length} rules found`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

it('shows on the overview the service levels, freshness and throughput the recording rules compute', () => {
  const overview = dashboards.find((one) => one.file === 'overview.json')!.dashboard;
  const names = new Set(dashboardExpressions('overview.json', overview).flatMap((e) => namesInPromql(e.expr).metrics));
  for (const rule of recorded) expect(names, `the overview shows ${rule}`).toContain(rule);
});

it('uses the datasource variable in every panel, target and query variable', () => {
  for (const { file, dashboard } of dashboards) {
    const variables = variablesOf(dashboard);
    expect(
      variables.find((variable) => variable.name === 'datasource'),
      `${file}'s datasource variable`,
    ).toMatchObject({
      type: 'datasource',
      query: 'prometheus',
    });
    for (const panel of allPanels(dashboard.panels)) {
      expect(panel.datasource, `${file}: panel "${panel.title}"`).toEqual(datasource);
      for (const target of panel.targets ?? []) {
        expect(target.datasource, `${file}: panel "${panel.title}" ${target.refId}`).toEqual(datasource);
      }
    }
    for (const variable of variables.filter((one) => one.type === 'query')) {
      expect(variable.datasource, `${file}: variable ${String(variable.name)}`).toEqual(datasource);
    }
  }
});

it('has unique uids and the dashboard shape Grafana imports: panels placed on the grid, targets with refIds', () => {
  const uids = dashboards.map(({ dashboard }) => dashboard.uid);
  expect(new Set(uids).size).toBe(uids.length);
  const builtIn = new Set(['__rate_interval', '__interval', '__interval_ms', '__range', '__range_s', '__range_ms']);
  for (const { file, dashboard } of dashboards) {
    expect(dashboard.uid, `${file}'s uid`).toMatch(/^[A-Za-z0-9_-]{1,40}$/);
    expect(typeof dashboard.title, `${file}'s title`).toBe('string');
    expect(dashboard.schemaVersion, `${file}'s schemaVersion`).toBeGreaterThanOrEqual(36);
    expect(Array.isArray(dashboard.panels), `${file}'s panels`).toBe(true);
    const panels = allPanels(dashboard.panels);
    const ids = panels.map((panel) => panel.id);
    expect(new Set(ids).size, `${file}: panel ids unique`).toBe(ids.length);
    const names = new Set(variablesOf(dashboard).map((variable) => String(variable.name)));
    const cells = new Map<string, string>();
    for (const panel of panels) {
      const where = `${file}: panel ${panel.id} "${panel.title}"`;
      expect(typeof panel.id, where).toBe('number');
      expect(panel.type, where).toMatch(/^(row|timeseries|stat|table|state-timeline|gauge|bargauge|heatmap)$/);
      expect(panel.title, where).toMatch(/\S/);
      const { x, y, w, h } = panel.gridPos ?? {};
      for (const n of [x, y, w, h])
        expect(Number.isInteger(n), `${where}: gridPos ${JSON.stringify(panel.gridPos)}`).toBe(true);
      expect(x! >= 0 && w! >= 1 && h! >= 1 && x! + w! <= 24, `${where}: gridPos within 24 columns`).toBe(true);
      // No two panels on one cell of the grid (a repeated row's copies are Grafana's to place).
      for (let row = y!; row < y! + h!; row++) {
        for (let col = x!; col < x! + w!; col++) {
          expect(cells.get(`${row},${col}`), `${where} overlaps`).toBeUndefined();
          cells.set(`${row},${col}`, where);
        }
      }
      if (panel.type === 'row') {
        expect(panel.targets, `${where}: a row has no targets`).toBeUndefined();
        continue;
      }
      expect(panel.description?.length ?? 0, `${where}: a description of what the operator learns`).toBeGreaterThan(40);
      expect(panel.targets?.length, `${where}: targets`).toBeGreaterThan(0);
      const refIds = panel.targets!.map((target) => target.refId);
      expect(new Set(refIds).size, `${where}: refIds unique`).toBe(refIds.length);
      for (const target of panel.targets!) {
        expect(target.refId, where).toMatch(/^[A-Z]+$/);
        expect(target.expr, where).toMatch(/\S/);
        for (const variable of namesInPromql(target.expr!).variables) {
          expect(names.has(variable) || builtIn.has(variable), `${where}: variable $${variable} defined`).toBe(true);
        }
      }
      if (panel.repeat) expect(names, `${where}: repeat variable`).toContain(panel.repeat);
    }
  }
  const overview = dashboards.find((one) => one.file === 'overview.json')!.dashboard;
  expect(allPanels(overview.panels).some((panel) => panel.type === 'row' && panel.repeat === 'province')).toBe(true);
  const drillDown = dashboards.find((one) => one.file === 'connector.json')!.dashboard;
  expect(variablesOf(drillDown).map((variable) => variable.name)).toEqual(['datasource', 'province', 'connector']);
});

it('provisions the Prometheus data source and the dashboards where docker-compose.yml mounts them', () => {
  const read = (path: string) => parse(readFileSync(`${root}config/grafana/provisioning/${path}`, 'utf8')) as Json;
  const sources = read('datasources/prometheus.yml').datasources as Json[];
  expect(sources).toEqual([expect.objectContaining({ type: 'prometheus', url: 'http://prometheus:9090' })]);
  const providers = read('dashboards/dossier-sync.yml').providers as Json[];
  expect(providers).toEqual([
    expect.objectContaining({
      type: 'file',
      options: expect.objectContaining({ path: '/var/lib/grafana/dashboards' }),
    }),
  ]);
  const compose = parse(readFileSync(`${root}docker-compose.yml`, 'utf8')) as {
    services: { grafana: { volumes: string[] } };
  };
  expect(compose.services.grafana.volumes).toEqual(
    expect.arrayContaining([
      './config/grafana/provisioning:/etc/grafana/provisioning:ro',
      './config/grafana/dashboards:/var/lib/grafana/dashboards:ro',
    ]),
  );
});

describe('the PromQL reading itself', () => {
  const metricsOf = (expr: string) => namesInPromql(expr).metrics;

  it('reports a metric name the fleet does not export, in a dashboard panel as in a rule', () => {
    expect(unknownNames(metricsOf('sum(rate(dossier_sync_records_writen_total[5m]))'), exported, recorded)).toEqual([
      'dossier_sync_records_writen_total: not exported by the fleet',
    ]);
    const overview = structuredClone(dashboards.find((one) => one.file === 'overview.json')!.dashboard);
    const panel = allPanels(overview.panels).find((one) => one.type === 'timeseries')!;
    panel.targets![0]!.expr = 'max by (queue) (dossier_sync_queue_lenght{queue="poll"})';
    expect(problemsOf(dashboardExpressions('overview.json', overview), exported, recorded)).toEqual([
      `overview.json: panel "${panel.title}" A: dossier_sync_queue_lenght: not exported by the fleet`,
    ]);
    expect(problemsOf([{ where: 'rule', expr: 'dossier_sync_nope > 0' }], exported, recorded)).toEqual([
      'rule: dossier_sync_nope: not exported by the fleet',
    ]);
  });

  it('reports a recording-rule name that recording-rules.yml does not define', () => {
    expect(
      unknownNames(metricsOf('province:dossier_sync_poll_commit_slow:ratio_rate2h > 0.1'), exported, recorded),
    ).toEqual(['province:dossier_sync_poll_commit_slow:ratio_rate2h: no recording rule of that name']);
  });

  it("maps a histogram's _bucket, _sum and _count to it, and only a histogram's", () => {
    const names = metricsOf(
      'rate(dossier_sync_commit_lag_seconds_sum[5m]) / rate(dossier_sync_commit_lag_seconds_count[5m]) + dossier_sync_commit_lag_seconds_bucket',
    );
    expect(names).toHaveLength(3);
    expect(unknownNames(names, exported, recorded)).toEqual([]);
    expect(unknownNames(['dossier_sync_records_written_total_count'], exported, recorded)).toEqual([
      'dossier_sync_records_written_total_count: not exported by the fleet',
    ]);
  });

  it('takes no label name, function, keyword, string, range or variable for a metric', () => {
    expect(
      metricsOf(
        'histogram_quantile(0.99, sum by (le, province) (rate(lag_bucket{province=~"$province", le!="+Inf"}[$__rate_interval] offset 1h)))',
      ),
    ).toEqual(['lag_bucket']);
    expect(
      metricsOf('sum(a) without (instance) / on (connector) group_left (province) max by (connector) (b)'),
    ).toEqual(['a', 'b']);
    expect(metricsOf('a > bool 1 and on (queue) b unless c or vector(0) - time()')).toEqual(['a', 'b', 'c']);
    expect(metricsOf('label_replace(x{queue=~"ingest-.+"}, "province", "$1", "queue", "ingest-(.+)")')).toEqual(['x']);
    expect(metricsOf('max_over_time(up[6h:5m]) # a comment naming not_a_metric')).toEqual(['up']);
    expect(metricsOf('{__name__="named_by_matcher", job="x"}')).toEqual(['named_by_matcher']);
    expect(metricsOf('recorded:rule:rate5m{province="01"}')).toEqual(['recorded:rule:rate5m']);
    expect(namesInPromql('a{province=~"$province", connector="${connector}"}[$__range]').variables.sort()).toEqual([
      '__range',
      'connector',
      'province',
    ]);
  });

  it('reports what it cannot read: an unknown function, an unterminated string or brace, unbalanced parentheses', () => {
    expect(namesInPromql('rat(a[5m])').problems).toEqual(['unknown function rat()']);
    expect(namesInPromql('a{b="c}').problems.length).toBeGreaterThan(0);
    expect(namesInPromql('a{b="c"').problems).toEqual(['unterminated "{"']);
    expect(namesInPromql('sum(rate(a[5m])').problems).toEqual(['unbalanced parentheses']);
    expect(namesInPromql('sum(a))').problems).toEqual(['unbalanced parentheses']);
  });

  it('reads Grafana templating queries', () => {
    expect(namesInVariableQuery('label_values(m{province=~"$province"}, connector)').metrics).toEqual(['m']);
    expect(namesInVariableQuery('label_values(province)').metrics).toEqual([]);
    expect(namesInVariableQuery('query_result(topk(5, q))').metrics).toEqual(['q']);
    expect(namesInVariableQuery('up{job="x"}').problems).toHaveLength(1);
  });
});
