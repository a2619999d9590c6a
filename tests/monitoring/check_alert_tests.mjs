// Checks that the unit tests of the alerting rules cover every alert both ways.
//
//   node tests/monitoring/check_alert_tests.mjs RULES.yaml RULES.test.yaml
//
// Fails (exit 1, one line per alert) unless every `- alert: NAME` of RULES.yaml has, in
// RULES.test.yaml, an alert_rule_test where it must fire (exp_alerts lists alerts) and one where
// it must not (exp_alerts: []). promtool itself only runs the tests that exist, so without this
// a new alert could arrive untested.
//
// Reads the two files line by line rather than as YAML (Node has no YAML parser and the project
// adds no npm package for this): it relies on `- alert: NAME` lines in the rules and on each
// `alertname: NAME` of the tests being followed by its `exp_alerts:` line, as promtool's
// documented layout has them.
import { readFileSync } from 'node:fs';

function alertNames(rulesText) {
  return [...rulesText.matchAll(/^\s*-\s*alert:\s*["']?([\w:]+)/gm)].map((match) => match[1]);
}

// Maps each tested alert name to {fires, quiet}: whether some test expects it to fire, or not.
function testedCases(testText) {
  const cases = new Map();
  let current = null;
  for (const line of testText.split('\n')) {
    const name = /^\s*(?:-\s*)?alertname:\s*["']?([\w:]+)/.exec(line);
    if (name) {
      current = name[1];
      continue;
    }
    const expected = /^\s*exp_alerts:\s*(.*?)\s*(?:#.*)?$/.exec(line);
    if (!expected || current === null) continue;
    const entry = cases.get(current) ?? { fires: false, quiet: false };
    if (expected[1] === '[]') entry.quiet = true;
    else entry.fires = true;
    cases.set(current, entry);
    current = null;
  }
  return cases;
}

function main(args) {
  if (args.length !== 2) {
    console.error('usage: node check_alert_tests.mjs RULES.yaml RULES.test.yaml');
    return 2;
  }
  const [rulesFile, testFile] = args;
  const alerts = alertNames(readFileSync(rulesFile, 'utf8'));
  const cases = testedCases(readFileSync(testFile, 'utf8'));

  const problems = [];
  if (alerts.length === 0) problems.push(`${rulesFile} defines no alert`);
  for (const alert of alerts) {
    const tested = cases.get(alert) ?? { fires: false, quiet: false };
    if (!tested.fires) problems.push(`${alert}: no test where it fires`);
    if (!tested.quiet) problems.push(`${alert}: no test where it stays quiet (exp_alerts: [])`);
  }
  for (const name of cases.keys()) {
    if (!alerts.includes(name)) problems.push(`${name}: tested but not defined in ${rulesFile}`);
  }

  for (const problem of problems) console.error(`check_alert_tests: ${problem}`);
  if (problems.length > 0) return 1;
  console.log(`check_alert_tests: each of the ${alerts.length} alerts is tested firing and quiet`);
  return 0;
}

process.exitCode = main(process.argv.slice(2));
