// The Kubernetes API types as the npm package kubernetes-models ships them, read for a strict
// walk: which fields each object type has, so that a field the API does not know is reported.
//
// kubernetes-models validates types and required fields with JSON schemas compiled from the
// OpenAPI definitions, but those schemas let unknown fields through (a misspelt `readinesProbe`
// passes). The package also ships the same definitions as TypeScript declarations, one file per
// OpenAPI definition (`apps/v1/DeploymentSpec.d.ts` holds `interface IDeploymentSpec`, its
// fields and their types, and imports the types it refers to). This module parses those
// declarations, which are generated and so regular, into type trees:
//
//   {kind: 'primitive', name: 'string'|'number'|'boolean'|'any'}
//   {kind: 'literal', value}                       a string or number literal
//   {kind: 'array', items: Type}
//   {kind: 'object', fields: Map<name, {type, optional}>, additional: Type|null}
//   {kind: 'ref', file, name}                      another definition, loaded when walked
//   {kind: 'union', options: [Type]}
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';

const PRIMITIVES = new Set(['string', 'number', 'boolean', 'any', 'unknown', 'object', 'null']);

// Splits declaration text into tokens: strings, identifiers, numbers and punctuation.
function tokenize(text) {
  const source = text.replace(/\/\*[\s\S]*?\*\//g, ' ').replace(/\/\/[^\n]*/g, ' ');
  const pattern = /\s*("(?:[^"\\]|\\.)*"|[A-Za-z_$][\w$]*|-?\d+(?:\.\d+)?|[{}[\]<>:;|?,=()&.])/gy;
  const tokens = [];
  let match;
  while ((match = pattern.exec(source)) !== null) tokens.push(match[1]);
  return tokens;
}

// A recursive-descent parser over the tokens of one declaration file.
class Parser {
  constructor(tokens, imports, file) {
    this.tokens = tokens;
    this.position = 0;
    this.imports = imports;
    this.file = file;
  }

  peek() {
    return this.tokens[this.position];
  }

  next() {
    return this.tokens[this.position++];
  }

  expect(token) {
    const found = this.next();
    if (found !== token) {
      throw new Error(`${this.file}: expected "${token}", found "${found}" at token ${this.position}`);
    }
  }

  type() {
    const options = [this.primary()];
    while (this.peek() === '|') {
      this.next();
      options.push(this.primary());
    }
    return options.length === 1 ? options[0] : { kind: 'union', options };
  }

  primary() {
    const token = this.next();
    let type;
    if (token === '{') {
      type = this.objectBody();
    } else if (token === 'Array') {
      this.expect('<');
      const items = this.type();
      this.expect('>');
      type = { kind: 'array', items };
    } else if (token.startsWith('"')) {
      type = { kind: 'literal', value: JSON.parse(token) };
    } else if (/^-?\d/.test(token)) {
      type = { kind: 'literal', value: Number(token) };
    } else if (PRIMITIVES.has(token)) {
      type = { kind: 'primitive', name: token };
    } else if (this.imports.has(token)) {
      type = { kind: 'ref', file: this.imports.get(token), name: token };
    } else {
      throw new Error(`${this.file}: unknown type name "${token}"`);
    }
    // `T[]` and indexed access `T["kind"]` (only the latter appears in the generated files).
    while (this.peek() === '[') {
      this.next();
      if (this.peek() === ']') {
        this.next();
        type = { kind: 'array', items: type };
      } else {
        this.next();
        this.expect(']');
        type = { kind: 'primitive', name: 'any' };
      }
    }
    return type;
  }

  // After "{": fields `"name"?: Type;` and an index signature `[key: string]: Type;`, to "}".
  objectBody() {
    const fields = new Map();
    let additional = null;
    while (this.peek() !== '}') {
      if (this.peek() === '[') {
        this.next();
        this.next();
        this.expect(':');
        this.next();
        this.expect(']');
        this.expect(':');
        additional = this.type();
      } else {
        const token = this.next();
        const name = token.startsWith('"') ? JSON.parse(token) : token;
        let optional = false;
        if (this.peek() === '?') {
          this.next();
          optional = true;
        }
        this.expect(':');
        fields.set(name, { type: this.type(), optional });
      }
      if (this.peek() === ';' || this.peek() === ',') this.next();
    }
    this.expect('}');
    return { kind: 'object', fields, additional };
  }
}

const definitions = new Map();

// The definition in a .d.ts file: its first exported interface or type alias, parsed.
export function loadDefinition(file) {
  if (definitions.has(file)) return definitions.get(file);

  const text = readFileSync(file, 'utf8');
  const require = createRequire(file);
  const imports = new Map();
  for (const [, names, from] of text.matchAll(/import\s*{([^}]*)}\s*from\s*"([^"]+)"/g)) {
    const target = from.startsWith('.')
      ? resolve(dirname(file), `${from}.d.ts`)
      : require.resolve(from).replace(/\.js$/, '.d.ts');
    for (const name of names.split(',').map((n) => n.trim()).filter(Boolean)) {
      imports.set(name, target);
    }
  }

  const tokens = tokenize(text);
  let start = tokens.findIndex(
    (token, i) => token === 'interface' && tokens[i - 1] === 'export',
  );
  let definition;
  if (start >= 0) {
    const parser = new Parser(tokens, imports, file);
    // `interface IDeployment extends TypeMeta {`: TypeMeta's apiVersion and kind are declared
    // again in the body, so the base adds nothing.
    parser.position = start + 2;
    while (parser.peek() !== '{') parser.next();
    parser.expect('{');
    definition = parser.objectBody();
  } else {
    start = tokens.findIndex((token, i) => token === 'type' && tokens[i - 1] === 'declare');
    if (start < 0) throw new Error(`${file}: neither an interface nor a type alias`);
    const parser = new Parser(tokens, imports, file);
    parser.position = start + 2;
    parser.expect('=');
    definition = parser.type();
  }
  definitions.set(file, definition);
  return definition;
}

// Walks `value` against `type`; returns one message per problem, each starting with the JSON
// path below `path`: a field the type does not have, a value of the wrong JSON type, a missing
// required field. `null` is accepted for an optional field, as the API server does.
export function walk(value, type, path = '') {
  switch (type.kind) {
    case 'primitive':
      return checkPrimitive(value, type.name, path);
    case 'literal':
      return value === type.value ? [] : [`${path || '/'}: must be ${JSON.stringify(type.value)}`];
    case 'ref':
      return walk(value, loadDefinition(type.file), path);
    case 'array':
      if (!Array.isArray(value)) return [`${path || '/'}: must be an array`];
      return value.flatMap((item, i) => walk(item, type.items, `${path}/${i}`));
    case 'union': {
      const results = type.options.map((option) => walk(value, option, path));
      if (results.some((problems) => problems.length === 0)) return [];
      const literals = type.options.filter((option) => option.kind === 'literal');
      if (literals.length === type.options.length) {
        return [`${path || '/'}: must be one of ${literals.map((l) => JSON.stringify(l.value)).join(', ')}`];
      }
      return results.reduce((best, problems) => (problems.length < best.length ? problems : best));
    }
    case 'object':
      return walkObject(value, type, path);
    default:
      throw new Error(`unknown type kind ${type.kind}`);
  }
}

function checkPrimitive(value, name, path) {
  const where = path || '/';
  if (name === 'any' || name === 'unknown') return [];
  if (name === 'object') {
    return value !== null && typeof value === 'object' ? [] : [`${where}: must be an object`];
  }
  if (name === 'null') return value === null ? [] : [`${where}: must be null`];
  return typeof value === name ? [] : [`${where}: must be a ${name}, is ${JSON.stringify(value)}`];
}

function walkObject(value, type, path) {
  const where = path || '/';
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return [`${where}: must be an object`];
  }
  const problems = [];
  for (const [name, field] of type.fields) {
    if (!field.optional && !(name in value)) problems.push(`${where}: missing required field "${name}"`);
  }
  for (const [name, fieldValue] of Object.entries(value)) {
    const field = type.fields.get(name);
    const fieldPath = `${path}/${name}`;
    if (field) {
      if (fieldValue === null && field.optional) continue;
      problems.push(...walk(fieldValue, field.type, fieldPath));
    } else if (type.additional) {
      problems.push(...walk(fieldValue, type.additional, fieldPath));
    } else if (type.fields.size > 0) {
      problems.push(`${fieldPath}: unknown field "${name}"`);
    }
    // An object type with neither fields nor an index signature (`{}`) is free-form.
  }
  return problems;
}
