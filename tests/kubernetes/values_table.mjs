// Prints the values table of the chart README from values.yaml, or checks that the README holds
// it, so that the table never drifts from the values:
//
//   node tests/kubernetes/values_table.mjs VALUES.yaml            prints the table
//   node tests/kubernetes/values_table.mjs VALUES.yaml README.md  exit 1 unless README.md holds
//                                                                 it between the markers
//
// A row per key whose comment starts with "-- " (helm-docs' convention): the dotted key, its
// type, its default as JSON and the comment. A map whose keys have such comments is a group:
// its keys are listed instead. Every other key must have a comment.
import { readFileSync } from 'node:fs';
import { isMap, parseDocument } from 'yaml';

const BEGIN = '<!-- values-table:begin (tests/kubernetes/values_table.mjs) -->';
const END = '<!-- values-table:end -->';

function describe(commentBefore) {
  if (!commentBefore) return null;
  const lines = commentBefore.split('\n').map((line) => line.trim());
  const start = lines.findIndex((line) => line.startsWith('-- '));
  if (start < 0) return null;
  return lines.slice(start).join(' ').slice(3).replace(/\|/g, '\\|').trim();
}

function typeOf(value) {
  if (Array.isArray(value)) return 'list';
  if (value === null) return 'null';
  return typeof value === 'object' ? 'object' : typeof value;
}

// The comment above a key. The parser attaches the comment above a map's first key to the map.
function commentOf(map, index) {
  const pair = map.items[index];
  return pair.key.commentBefore ?? pair.commentBefore ?? (index === 0 ? map.commentBefore : null);
}

// A map is a group of documented keys when one of its keys has its own "-- " comment or is such
// a group itself.
function isGroup(node) {
  return (
    isMap(node) &&
    node.items.some((pair, i) => describe(commentOf(node, i)) !== null || isGroup(pair.value))
  );
}

function rows(map, prefix, problems) {
  const result = [];
  map.items.forEach((pair, index) => {
    const key = `${prefix}${pair.key.value}`;
    const description = describe(commentOf(map, index));
    if (isGroup(pair.value)) {
      result.push(...rows(pair.value, `${key}.`, problems));
    } else if (description !== null) {
      const value = pair.value?.toJSON();
      const json = JSON.stringify(value).replace(/\|/g, '\\|');
      result.push(`| \`${key}\` | ${typeOf(value)} | \`${json}\` | ${description} |`);
    } else {
      problems.push(`${key}: no "# -- " comment`);
    }
  });
  return result;
}

const [valuesFile, readmeFile] = process.argv.slice(2);
const document = parseDocument(readFileSync(valuesFile, 'utf8'));
const problems = [];
const table = [
  '| key | type | default | description |',
  '|---|---|---|---|',
  ...rows(document.contents, '', problems),
].join('\n');
if (problems.length > 0) {
  for (const problem of problems) console.error(`${valuesFile}: ${problem}`);
  process.exit(1);
}
if (!readmeFile) {
  console.log(table);
  process.exit(0);
}
const readme = readFileSync(readmeFile, 'utf8');
const expected = `${BEGIN}\n${table}\n${END}`;
if (!readme.includes(expected)) {
  console.error(`${readmeFile}: the values table is not the one values.yaml gives; regenerate it:`);
  console.error(`  node tests/kubernetes/values_table.mjs ${valuesFile} and paste it between`);
  console.error(`  ${BEGIN} and ${END}`);
  process.exit(1);
}
console.log(`${readmeFile}: the values table matches ${valuesFile}`);
