// Validates rendered Kubernetes manifests offline, against the API definitions of the npm
// packages kubernetes-models (Kubernetes 1.33) and @kubernetes-models/prometheus-operator.
//
//   node tests/kubernetes/validate_manifests.mjs [--expect Kind/name,...] FILE.yaml...
//
// Each object (YAML documents; `List`s are opened) is checked twice: by the package's own
// validator (JSON types, required fields, enums, formats), and by a strict walk over the
// package's type declarations (openapi_types.mjs) that also rejects fields the API does not
// have. With --expect, the objects found must be exactly those Kind/name pairs (a trailing *
// matches any suffix). Prints the
// object list and exits 0, or prints one line per problem and exits 1.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { parseAllDocuments } from 'yaml';

import { loadDefinition, walk } from './openapi_types.mjs';

const require = createRequire(import.meta.url);

// apiVersion group -> the package that models it. The core group has no name ("v1").
const PACKAGES = new Map([['monitoring.coreos.com', '@kubernetes-models/prometheus-operator']]);

// The model of an apiVersion and kind: its validating class and its declaration file.
async function modelOf(apiVersion, kind) {
  const slash = apiVersion.lastIndexOf('/');
  const group = slash < 0 ? '' : apiVersion.slice(0, slash);
  const version = apiVersion.slice(slash + 1);
  const pkg = PACKAGES.get(group) ?? 'kubernetes-models';
  const modulePath = [pkg, group, version, kind].filter(Boolean).join('/');
  let entry;
  try {
    entry = require.resolve(modulePath);
  } catch {
    return null;
  }
  const declarations = entry.replace(/\.js$/, '.d.ts');
  if (!existsSync(declarations)) return null;
  const module = await import(entry.replace(/\.js$/, '.mjs'));
  return { Model: module[kind], definition: loadDefinition(declarations) };
}

function parseArguments(argv) {
  const files = [];
  let expect = null;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--expect') {
      expect = argv[++i].split(',').filter(Boolean).sort();
    } else {
      files.push(argv[i]);
    }
  }
  if (files.length === 0) {
    console.error('usage: validate_manifests.mjs [--expect Kind/name,...] FILE.yaml...');
    process.exit(2);
  }
  return { files, expect };
}

// True when every name matches one pattern and every pattern one name. A pattern ending in "*"
// matches any name with that prefix (kustomize's generated names end in a content hash).
function matchesExactly(names, patterns) {
  const unmatched = [...names];
  for (const pattern of patterns) {
    const index = unmatched.findIndex((name) =>
      pattern.endsWith('*') ? name.startsWith(pattern.slice(0, -1)) : name === pattern,
    );
    if (index < 0) return false;
    unmatched.splice(index, 1);
  }
  return unmatched.length === 0;
}

function objectsOf(file) {
  const problems = [];
  const objects = [];
  for (const document of parseAllDocuments(readFileSync(file, 'utf8'))) {
    if (document.errors.length > 0) {
      problems.push(...document.errors.map((error) => `${file}: YAML: ${error.message}`));
      continue;
    }
    const object = document.toJS();
    if (object === null || object === undefined) continue;
    if (object.kind === 'List' && Array.isArray(object.items)) objects.push(...object.items);
    else objects.push(object);
  }
  return { objects, problems };
}

async function validate(object) {
  const name = `${object?.kind}/${object?.metadata?.name}`;
  if (typeof object?.apiVersion !== 'string' || typeof object?.kind !== 'string') {
    return { name, problems: [`${name}: apiVersion and kind must be strings`] };
  }
  const model = await modelOf(object.apiVersion, object.kind);
  if (model === null) {
    return { name, problems: [`${name}: no API definition for ${object.apiVersion} ${object.kind}`] };
  }

  const problems = [];
  try {
    new model.Model(object).validate();
  } catch (error) {
    const details = error.errors ?? [];
    if (details.length === 0) problems.push(`${name}: ${error.message}`);
    for (const detail of details) {
      problems.push(`${name}: ${detail.instancePath || '/'}: ${detail.message} ${JSON.stringify(detail.params)}`);
    }
  }
  problems.push(...walk(object, model.definition).map((problem) => `${name}: ${problem}`));
  return { name, problems };
}

const { files, expect } = parseArguments(process.argv.slice(2));
const problems = [];
const names = [];
for (const file of files) {
  const parsed = objectsOf(file);
  problems.push(...parsed.problems);
  for (const object of parsed.objects) {
    const result = await validate(object);
    names.push(result.name);
    problems.push(...result.problems);
  }
}
names.sort();
if (expect !== null && !matchesExactly(names, expect)) {
  problems.push(`objects: expected ${expect.join(', ')}; found ${names.join(', ')}`);
}
if (problems.length > 0) {
  for (const problem of problems) console.error(problem);
  console.error(`${problems.length} problem(s) in ${names.length} object(s)`);
  process.exit(1);
}
console.log(`${names.length} object(s) valid: ${names.join(', ')}`);
