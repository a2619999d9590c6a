// Checks the Grafana dashboard of deploy/monitoring/ against the metrics agentauthd exports.
//
//   node tests/monitoring/check_dashboard.mjs DASHBOARD.json [--promtool PATH]
//
// Fails (exit 1, one line per problem) unless the file is valid JSON, every panel has a unique
// integer id, a title and a grid position, every panel other than a row queries the
// `${datasource}` Prometheus variable with at least one target, and every query (the panels'
// and the template variables') names only metrics of METRICS below. With --promtool, every
// query is also parsed by Prometheus itself: the queries, with Grafana's variables replaced,
// become recording rules in a temporary file that `PATH check rules` must accept.
//
// The metric-name check reads PromQL with a tokenizer, not a parser: it removes strings, label
// matchers, ranges and grouping clauses, then takes each remaining identifier as a function
// (when "(" follows), a keyword or a metric name. It knows no more PromQL than the dashboard
// needs; a new function must be added to FUNCTIONS.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// What agentauthd exports (server/ implements it; deploy/monitoring/README.md lists it too).
// Keep in step with the daemon: a dashboard query on a name missing here fails this check.
const METRICS = new Map([
  ['grpc_server_started_total', 'counter'],
  ['grpc_server_handled_total', 'counter'],
  ['grpc_server_handling_seconds', 'histogram'],
  ['agentauth_token_requests_total', 'counter'],
  ['agentauth_token_waiters', 'gauge'],
  ['agentauth_provider_requests_total', 'counter'],
  ['agentauth_provider_oauth_errors_total', 'counter'],
  ['agentauth_provider_request_duration_seconds', 'histogram'],
  ['agentauth_provider_retries_total', 'counter'],
  ['agentauth_provider_throttled_total', 'counter'],
  ['agentauth_token_expiry_seconds', 'gauge'],
  ['agentauth_token_last_refresh_timestamp_seconds', 'gauge'],
  ['agentauth_client_consecutive_failures', 'gauge'],
  ['agentauth_client_state', 'gauge'],
  ['agentauth_discovery_age_seconds', 'gauge'],
  ['agentauth_config_reloads_total', 'counter'],
  ['agentauth_build_info', 'gauge'],
  ['process_resident_memory_bytes', 'gauge'],
  ['process_cpu_seconds_total', 'counter'],
  ['process_open_fds', 'gauge'],
  ['process_start_time_seconds', 'gauge'],
]);

// A histogram is queried through its series; its bare name matches nothing.
const QUERYABLE = new Set(
  [...METRICS].flatMap(([name, type]) =>
    type === 'histogram' ? [`${name}_bucket`, `${name}_sum`, `${name}_count`] : [name],
  ),
);

const FUNCTIONS = new Set([
  // Aggregations.
  'sum', 'avg', 'min', 'max', 'count', 'group', 'stddev', 'stdvar', 'topk', 'bottomk',
  'quantile', 'count_values',
  // Functions.
  'abs', 'absent', 'absent_over_time', 'avg_over_time', 'ceil', 'changes', 'clamp', 'clamp_max',
  'clamp_min', 'count_over_time', 'delta', 'deriv', 'exp', 'floor', 'histogram_quantile',
  'idelta', 'increase', 'irate', 'label_join', 'label_replace', 'last_over_time', 'ln', 'log2',
  'log10', 'max_over_time', 'min_over_time', 'predict_linear', 'quantile_over_time', 'rate',
  'resets', 'round', 'scalar', 'sgn', 'sort', 'sort_desc', 'sqrt', 'stddev_over_time',
  'sum_over_time', 'time', 'timestamp', 'vector',
]);

const KEYWORDS = new Set([
  'and', 'or', 'unless', 'atan2', 'bool', 'offset', 'by', 'without', 'on', 'ignoring',
  'group_left', 'group_right', 'inf', 'nan',
]);

const DATASOURCE_UID = '${datasource}';
const GRID_WIDTH = 24;

// Returns the metric names `expr` selects and the problems found while reading it.
function metricNames(expr) {
  const problems = [];
  if (/__name__/.test(expr)) problems.push('selects by __name__: name the metric instead');

  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, ' ')
    .replace(/\$\{[^}]*\}|\$\w+|\[\[\w+\]\]/g, ' ')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/gi, ' ');

  const names = [];
  // Numbers and durations (0.99, 1e3, 5m) are consumed whole so that their letters are not read
  // as identifiers.
  for (const match of stripped.matchAll(/[A-Za-z_:][\w:]*(\s*\()?|\d[\w.]*/g)) {
    const [token, call] = match;
    if (/^\d/.test(token)) continue;
    const word = token.replace(/\s*\($/, '');
    if (call) {
      if (!FUNCTIONS.has(word)) problems.push(`unknown function ${word}()`);
    } else if (!KEYWORDS.has(word.toLowerCase())) {
      names.push(word);
    }
  }
  return { names, problems };
}

function checkExpr(expr, where, problems) {
  const { names, problems: found } = metricNames(expr);
  for (const problem of found) problems.push(`${where}: ${problem}`);
  for (const name of names) {
    if (QUERYABLE.has(name)) continue;
    const isHistogram = METRICS.get(name) === 'histogram';
    const hint = isHistogram ? ' (a histogram: use _bucket, _sum or _count)' : '';
    problems.push(`${where}: unknown metric ${name}${hint}`);
  }
  if (names.length === 0) problems.push(`${where}: queries no metric`);
}

// The PromQL inside a variable's query: label_values(EXPR, label) or query_result(EXPR).
function variableExpr(query) {
  const labelValues = /^\s*label_values\(\s*(.*\S)\s*,\s*\w+\s*\)\s*$/s.exec(query);
  if (labelValues) return labelValues[1];
  const queryResult = /^\s*query_result\(\s*(.*\S)\s*\)\s*$/s.exec(query);
  return queryResult ? queryResult[1] : null;
}

function checkTemplating(dashboard, problems, queries) {
  const variables = dashboard.templating?.list ?? [];
  const byName = new Map(variables.map((v) => [v.name, v]));

  const datasource = byName.get('datasource');
  if (datasource?.type !== 'datasource' || datasource.query !== 'prometheus') {
    problems.push('templating: needs a variable "datasource" of type datasource, query prometheus');
  }
  const client = byName.get('client');
  if (client?.type !== 'query' || client.multi !== true) {
    problems.push('templating: needs a multi-value query variable "client"');
  }

  for (const variable of variables.filter((v) => v.type === 'query')) {
    const where = `variable ${variable.name}`;
    if (variable.datasource?.uid !== DATASOURCE_UID) {
      problems.push(`${where}: datasource must be ${DATASOURCE_UID}`);
    }
    const query = typeof variable.query === 'string' ? variable.query : variable.query?.query;
    const expr = variableExpr(query ?? '');
    if (expr === null) {
      problems.push(`${where}: query is not label_values(EXPR, label): ${query}`);
      continue;
    }
    checkExpr(expr, where, problems);
    queries.push({ name: `variable_${variable.name}`, expr });
  }
}

function allPanels(panels) {
  return (panels ?? []).flatMap((panel) => [panel, ...allPanels(panel.panels)]);
}

function checkPanel(panel, problems, queries) {
  const where = `panel ${panel.id} "${panel.title ?? ''}"`;
  if (typeof panel.title !== 'string' || panel.title.trim() === '') {
    problems.push(`${where}: has no title`);
  }
  const grid = panel.gridPos;
  if (![grid?.x, grid?.y, grid?.w, grid?.h].every(Number.isInteger) || grid.x < 0 ||
      grid.w <= 0 || grid.h <= 0 || grid.x + grid.w > GRID_WIDTH) {
    problems.push(`${where}: gridPos must be integers within ${GRID_WIDTH} columns`);
  }
  if (panel.type === 'row') return;

  if (panel.datasource?.type !== 'prometheus' || panel.datasource?.uid !== DATASOURCE_UID) {
    problems.push(`${where}: datasource must be {type: prometheus, uid: ${DATASOURCE_UID}}`);
  }
  const targets = panel.targets ?? [];
  if (targets.length === 0) problems.push(`${where}: has no targets`);

  const refIds = new Set();
  for (const target of targets) {
    const at = `${where} target ${target.refId}`;
    if (!target.refId || refIds.has(target.refId)) {
      problems.push(`${at}: refId missing or repeated`);
    }
    refIds.add(target.refId);
    if (target.datasource && target.datasource.uid !== DATASOURCE_UID) {
      problems.push(`${at}: datasource must be ${DATASOURCE_UID}`);
    }
    if (typeof target.expr !== 'string' || target.expr.trim() === '') {
      problems.push(`${at}: has no expr`);
      continue;
    }
    checkExpr(target.expr, at, problems);
    queries.push({ name: `panel_${panel.id}_${target.refId}`, expr: target.expr });
  }
}

function checkPanels(dashboard, problems, queries) {
  const panels = allPanels(dashboard.panels);
  if (panels.length === 0) problems.push('dashboard has no panels');

  const ids = new Set();
  for (const panel of panels) {
    if (!Number.isInteger(panel.id)) problems.push(`panel "${panel.title}": id is not an integer`);
    else if (ids.has(panel.id)) problems.push(`panel "${panel.title}": duplicate id ${panel.id}`);
    ids.add(panel.id);
    checkPanel(panel, problems, queries);
  }
  return panels.length;
}

// Grafana's variables as Prometheus sees them once Grafana has replaced them.
function withVariablesReplaced(expr) {
  return expr
    .replace(/\$\{?__(?:rate_interval|interval|range)\}?/g, '5m')
    .replace(/\$\{[^}]*\}|\$\w+|\[\[\w+\]\]/g, '.*');
}

// Asks promtool to parse every query, as recording rules of a temporary rules file (JSON is
// YAML). Returns false when it rejects one.
function promtoolAccepts(promtool, queries) {
  const rules = queries.map(({ name, expr }) => ({
    record: `agentauth_dashboard:${name}`,
    expr: withVariablesReplaced(expr),
  }));
  const dir = mkdtempSync(join(tmpdir(), 'agentauth-dashboard-'));
  try {
    const file = join(dir, 'dashboard-queries.rules.yaml');
    writeFileSync(file, JSON.stringify({ groups: [{ name: 'dashboard', rules }] }, null, 2));
    const result = spawnSync(promtool, ['check', 'rules', file], { stdio: 'inherit' });
    if (result.error) {
      console.error(`check_dashboard: cannot run ${promtool}: ${result.error.message}`);
    }
    return result.status === 0;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function main(args) {
  const promtoolAt = args.indexOf('--promtool');
  const promtool = promtoolAt >= 0 ? args[promtoolAt + 1] : null;
  const files = args.filter(
    (arg, i) => !arg.startsWith('--') && (promtoolAt < 0 || i !== promtoolAt + 1),
  );
  if (files.length !== 1 || (promtoolAt >= 0 && !promtool)) {
    console.error('usage: node check_dashboard.mjs DASHBOARD.json [--promtool PATH]');
    return 2;
  }

  let dashboard;
  try {
    dashboard = JSON.parse(readFileSync(files[0], 'utf8'));
  } catch (error) {
    console.error(`check_dashboard: ${files[0]}: ${error.message}`);
    return 1;
  }

  const problems = [];
  const queries = [];
  if (!Number.isInteger(dashboard.schemaVersion)) problems.push('schemaVersion is missing');
  checkTemplating(dashboard, problems, queries);
  const panelCount = checkPanels(dashboard, problems, queries);

  for (const problem of problems) console.error(`check_dashboard: ${files[0]}: ${problem}`);
  if (problems.length > 0) return 1;
  if (promtool && !promtoolAccepts(promtool, queries)) return 1;

  console.log(`check_dashboard: ${files[0]}: ${panelCount} panels and ${queries.length} queries ` +
    `use only the ${METRICS.size} known metrics${promtool ? '; promtool parses every query' : ''}`);
  return 0;
}

process.exitCode = main(process.argv.slice(2));
