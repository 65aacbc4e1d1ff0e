// The metric names a PromQL expression reads, found by tokenising it (strings, numbers, durations, ranges and
// Grafana variables each a token of their own) rather than by a regular expression over the text: label names
// inside `{…}`, label lists after `by`/`without`/`on`/`ignoring`/`group_left`/`group_right`, function names,
// keywords and string arguments are not metric names.

/** What one expression names. */
export interface PromqlNames {
  /** Metric and recording-rule names, as written (a histogram's `_bucket`, `_sum`, `_count` kept). */
  metrics: string[];
  /** Grafana variables it uses (`$province`, `${connector}`, `[[x]]`), without the `$`. */
  variables: string[];
  /** What could not be read: an unknown function, a stray character, an unterminated string or bracket. */
  problems: string[];
}

// Prometheus 2.55's functions (https://prometheus.io/docs/prometheus/latest/querying/functions/).
const functions = new Set([
  'abs',
  'absent',
  'absent_over_time',
  'acos',
  'acosh',
  'asin',
  'asinh',
  'atan',
  'atanh',
  'avg_over_time',
  'ceil',
  'changes',
  'clamp',
  'clamp_max',
  'clamp_min',
  'cos',
  'cosh',
  'count_over_time',
  'day_of_month',
  'day_of_week',
  'day_of_year',
  'days_in_month',
  'deg',
  'delta',
  'deriv',
  'double_exponential_smoothing',
  'end',
  'exp',
  'floor',
  'histogram_avg',
  'histogram_count',
  'histogram_fraction',
  'histogram_quantile',
  'histogram_stddev',
  'histogram_stdvar',
  'histogram_sum',
  'holt_winters',
  'hour',
  'idelta',
  'increase',
  'info',
  'irate',
  'label_join',
  'label_replace',
  'last_over_time',
  'ln',
  'log10',
  'log2',
  'mad_over_time',
  'max_over_time',
  'min_over_time',
  'minute',
  'month',
  'pi',
  'predict_linear',
  'present_over_time',
  'quantile_over_time',
  'rad',
  'rate',
  'resets',
  'round',
  'scalar',
  'sgn',
  'sin',
  'sinh',
  'sort',
  'sort_by_label',
  'sort_by_label_desc',
  'sort_desc',
  'sqrt',
  'start',
  'stddev_over_time',
  'stdvar_over_time',
  'sum_over_time',
  'tan',
  'tanh',
  'time',
  'timestamp',
  'vector',
  'year',
]);

/** Aggregation operators: followed by `(` or by `by (…)` / `without (…)`. */
const aggregations = new Set([
  'avg',
  'bottomk',
  'count',
  'count_values',
  'group',
  'limit_ratio',
  'limitk',
  'max',
  'min',
  'quantile',
  'stddev',
  'stdvar',
  'sum',
  'topk',
]);

/** Keywords followed by a list of label names in parentheses (group_left/group_right: optionally). */
const labelListKeywords = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right']);

/** Other keywords: binary operators, modifiers and the special numbers. */
const keywords = new Set(['and', 'or', 'unless', 'bool', 'offset', 'inf', 'nan']);

type Token =
  | { kind: 'ident' | 'string' | 'number' | 'punct'; text: string }
  | { kind: 'range'; text: string }
  | { kind: 'variable'; text: string };

const variablesIn = (text: string): string[] =>
  [...text.matchAll(/\$\{([A-Za-z_]\w*)[^}]*\}|\$([A-Za-z_]\w*)|\[\[([A-Za-z_]\w*)\]\]/g)].map(
    (m) => (m[1] ?? m[2] ?? m[3])!,
  );

function tokenise(expr: string, problems: string[]): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < expr.length) {
    const c = expr[i]!;
    if (/\s/.test(c)) {
      i++;
    } else if (c === '#') {
      while (i < expr.length && expr[i] !== '\n') i++;
    } else if (c === '"' || c === "'" || c === '`') {
      let j = i + 1;
      let value = '';
      while (j < expr.length && expr[j] !== c) {
        if (expr[j] === '\\' && c !== '`') j++;
        value += expr[j] ?? '';
        j++;
      }
      if (j >= expr.length) problems.push(`unterminated string at ${i}: ${expr.slice(i, i + 30)}`);
      tokens.push({ kind: 'string', text: value });
      i = j + 1;
    } else if (c === '$') {
      const m = /^\$(?:\{([A-Za-z_]\w*)[^}]*\}|([A-Za-z_]\w*))/.exec(expr.slice(i));
      if (!m) {
        problems.push(`stray "$" at ${i}`);
        i++;
        continue;
      }
      tokens.push({ kind: 'variable', text: (m[1] ?? m[2])! });
      i += m[0].length;
    } else if (c === '[') {
      // A range or subquery, `[5m]`, `[$__rate_interval]`, `[1h:5m]`: no metric name inside.
      let depth = 0;
      let j = i;
      for (; j < expr.length; j++) {
        if (expr[j] === '[') depth++;
        else if (expr[j] === ']' && --depth === 0) break;
      }
      if (j >= expr.length) problems.push(`unterminated "[" at ${i}`);
      tokens.push({ kind: 'range', text: expr.slice(i, j + 1) });
      i = j + 1;
    } else if (/[0-9.]/.test(c) && /^\.?[0-9]/.test(expr.slice(i, i + 2))) {
      const m =
        /^(?:0x[0-9a-fA-F]+|(?:[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)(?:(?:ms|[smhdwy])(?:[0-9]+(?:ms|[smhdwy]))*)?)/.exec(
          expr.slice(i),
        )!;
      tokens.push({ kind: 'number', text: m[0] });
      i += m[0].length;
    } else if (/[A-Za-z_:]/.test(c)) {
      const m = /^[A-Za-z_:][A-Za-z0-9_:]*/.exec(expr.slice(i))!;
      tokens.push({ kind: 'ident', text: m[0] });
      i += m[0].length;
    } else {
      const m = /^(?:=~|!~|!=|==|>=|<=|[{}(),=+\-*/%^<>@])/.exec(expr.slice(i));
      if (!m) {
        problems.push(`unexpected character ${JSON.stringify(c)} at ${i}`);
        i++;
        continue;
      }
      tokens.push({ kind: 'punct', text: m[0] });
      i += m[0].length;
    }
  }
  return tokens;
}

/** The index just past the `)` that closes the `(` at `open`. */
function pastClosing(tokens: Token[], open: number, problems: string[]): number {
  let depth = 0;
  for (let j = open; j < tokens.length; j++) {
    const t = tokens[j]!;
    if (t.kind !== 'punct') continue;
    if (t.text === '(') depth++;
    else if (t.text === ')' && --depth === 0) return j + 1;
  }
  problems.push('unbalanced "("');
  return tokens.length;
}

/** The metric names, Grafana variables and problems of one PromQL expression. */
export function namesInPromql(expr: string): PromqlNames {
  const problems: string[] = [];
  const tokens = tokenise(expr, problems);
  const metrics: string[] = [];
  const variables: string[] = [];
  const isPunct = (t: Token | undefined, text: string) => t?.kind === 'punct' && t.text === text;
  for (let i = 0; i < tokens.length;) {
    const t = tokens[i]!;
    if (t.kind === 'variable') {
      variables.push(t.text);
      i++;
    } else if (t.kind === 'string' || t.kind === 'range') {
      variables.push(...variablesIn(t.text));
      i++;
    } else if (isPunct(t, '{')) {
      // Label matchers: `name op "value"`, comma-separated. Only `__name__="…"` names a metric.
      let j = i + 1;
      for (; j < tokens.length && !isPunct(tokens[j], '}'); j++) {
        const label = tokens[j]!;
        const op = tokens[j + 1];
        const value = tokens[j + 2];
        if (label.kind === 'ident' && label.text === '__name__' && isPunct(op, '=') && value?.kind === 'string') {
          metrics.push(value.text);
        }
        if (value?.kind === 'string') variables.push(...variablesIn(value.text));
        if (value?.kind === 'variable') variables.push(value.text);
      }
      if (j >= tokens.length) problems.push('unterminated "{"');
      i = j + 1;
    } else if (t.kind === 'ident') {
      const next = tokens[i + 1];
      const word = t.text.toLowerCase();
      if (labelListKeywords.has(word) && isPunct(next, '(')) {
        i = pastClosing(tokens, i + 1, problems);
      } else if (labelListKeywords.has(word) || keywords.has(word)) {
        i++;
      } else if (isPunct(next, '(')) {
        if (!functions.has(t.text) && !aggregations.has(t.text)) problems.push(`unknown function ${t.text}()`);
        i++;
      } else if (aggregations.has(t.text) && next?.kind === 'ident' && /^(by|without)$/i.test(next.text)) {
        i++;
      } else {
        metrics.push(t.text);
        i++;
      }
    } else {
      i++;
    }
  }
  let depth = 0;
  for (const t of tokens) {
    if (isPunct(t, '(')) depth++;
    else if (isPunct(t, ')') && --depth < 0) break;
  }
  if (depth !== 0) problems.push('unbalanced parentheses');
  return { metrics, variables, problems };
}

/**
 * What a Grafana Prometheus templating query names: `label_values(label)`, `label_values(selector, label)`,
 * `label_names()`, `query_result(expr)`, `metrics(regex)` (none: it lists names).
 */
export function namesInVariableQuery(query: string): PromqlNames {
  const trimmed = query.trim();
  const call = /^(label_values|label_names|query_result|metrics)\s*\(([\s\S]*)\)$/.exec(trimmed);
  if (!call) return { metrics: [], variables: [], problems: [`not a Grafana Prometheus variable query: ${query}`] };
  const [, fn, args] = call as unknown as [string, string, string];
  if (fn === 'metrics') return { metrics: [], variables: variablesIn(args), problems: [] };
  if (fn === 'query_result') return namesInPromql(args);
  if (fn === 'label_names')
    return args.trim() === '' ? { metrics: [], variables: [], problems: [] } : namesInPromql(args);
  // label_values: the label is the last argument; what comes before its comma is a series selector.
  const last = /,\s*([A-Za-z_]\w*)\s*$/.exec(args);
  if (!last) return { metrics: [], variables: [], problems: [] };
  return namesInPromql(args.slice(0, last.index));
}

/** A metric the fleet exports: its name and prom-client type. */
export interface ExportedMetric {
  name: string;
  type: string;
}

/**
 * The names among `names` that neither the fleet exports nor the recording rules define, each with why. A
 * histogram's `_bucket`, `_sum` and `_count` are its own (a summary's `_sum` and `_count`); a name with a colon is a
 * recording rule's, and must be one of `recorded`.
 */
export function unknownNames(names: Iterable<string>, exported: ExportedMetric[], recorded: Set<string>): string[] {
  const types = new Map(exported.map((metric) => [metric.name, metric.type]));
  const unknown: string[] = [];
  for (const name of new Set(names)) {
    if (name.includes(':')) {
      if (!recorded.has(name)) unknown.push(`${name}: no recording rule of that name`);
      continue;
    }
    if (types.has(name)) continue;
    const series = /^(.+)_(bucket|sum|count)$/.exec(name);
    const baseType = series ? types.get(series[1]!) : undefined;
    if (baseType === 'histogram' || (baseType === 'summary' && series?.[2] !== 'bucket')) continue;
    unknown.push(`${name}: not exported by the fleet`);
  }
  return unknown;
}
