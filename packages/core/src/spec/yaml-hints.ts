/**
 * Hints for YAML mistakes a spec author makes, found in the parsed document and its text: an
 * unquoted value that YAML reads as something else (a template `{{ x }}` read as a mapping, a value
 * that starts with `@` or holds `: `), and the hint that shows it quoted; a key written twice.
 */
import { type Document, isCollection, isMap, isScalar, isSeq, type Pair, type Scalar } from "yaml";
import type { SpecIssue, SpecPath } from "./issues.js";

/**
 * The hint for a syntax error at `at` that quoting a value fixes (`content: Review: {{ text }}`,
 * `use: @acme/bp-sink`, `id: {{ id }}-x`): the `key: value` the error sits in, written quoted.
 */
export function quoteHint(text: string, at: number): string | undefined {
  const lineStart = text.lastIndexOf("\n", at - 1) + 1;
  const lineEnd = text.indexOf("\n", at) === -1 ? text.length : text.indexOf("\n", at);
  const line = text.slice(lineStart, lineEnd);
  const col = at - lineStart;
  const key = [...line.matchAll(/(?:^|[\s{,[])([A-Za-z_$][\w.$-]*):[ \t]+/g)]
    .filter((match) => match.index + match[0].length <= col)
    .at(-1);
  if (!key) return undefined;
  const from = key.index + key[0].length;
  return valueHint(key[1]!, writtenValue(line.slice(from), inFlow(line.slice(0, from))));
}

/** the hint for `key: value` where `value` is written unquoted; undefined when quoting would not help */
export function valueHint(key: string, value: string): string | undefined {
  if (value === "" || /^["']/.test(value)) return undefined;
  const reason = /^[@`]/.test(value)
    ? `a value cannot start with ${value[0]} unquoted`
    : /:\s/.test(value)
      ? 'a value that holds ": " must be quoted, or YAML reads it as a nested key'
      : value.includes("{{")
        ? "a {{ … }} template must be quoted, or YAML reads its braces as a mapping"
        : /\s#/.test(value)
          ? 'a value that holds " #" must be quoted, or YAML reads the rest as a comment'
          : undefined;
  return reason && `${reason}: write ${key}: ${quote(value)}`;
}

/**
 * A mapping key that is itself a mapping or a list: what an unquoted template at the start of a
 * value becomes (`content: {{ text }}` is the mapping `{ { text }: null }`). It would reach the data
 * as a stringified key, so the request would carry `{"{ text }": null}` instead of the record's text.
 */
export function collectionKeyIssues(doc: Document, text: string): SpecIssue[] {
  const issues: SpecIssue[] = [];
  forEachPair(doc.contents, [], (pair, map, at) => {
    if (!isCollection(pair.key)) return;
    const range = (map.range ?? (pair.key as { range?: [number, number] }).range)!;
    const written = text.slice(range[0], range[1]).trim();
    const key = at.at(-1);
    const template = written.startsWith("{{");
    issues.push({
      path: at,
      message: template
        ? `the template ${written} is not quoted, so YAML reads it as a mapping`
        : "a mapping or list is used as a key",
      hint:
        (typeof key === "string" && template ? valueHint(key, written) : undefined) ??
        'a key must be a string: quote the value, e.g. content: "{{ text }}"',
      range: [range[0], range[0] + written.length],
    });
  });
  return issues;
}

/** what a DUPLICATE_KEY error at `at` (the second key) says: the key, its path and where the first one is */
export function duplicateKeyIssue(
  doc: Document,
  at: [number, number],
  linePos: (offset: number) => { line: number; col: number },
): SpecIssue | undefined {
  let issue: SpecIssue | undefined;
  forEachPair(doc.contents, [], (pair, map, path) => {
    const range = isScalar(pair.key) ? pair.key.range : undefined;
    if (issue || !range || range[0] !== at[0] || !isMap(map)) return;
    const key = (pair.key as Scalar).value;
    const first = map.items.find((item) => isScalar(item.key) && item.key.value === key);
    const firstAt = first && isScalar(first.key) && first.key.range ? linePos(first.key.range[0]) : undefined;
    const second = linePos(at[0]);
    const where = !firstAt
      ? ""
      : firstAt.line === second.line
        ? `: first given on line ${firstAt.line}, column ${firstAt.col}`
        : `: first given on line ${firstAt.line}`;
    issue = {
      path: [...path, typeof key === "number" ? key : String(key)],
      message: `duplicate key ${JSON.stringify(key)}${where}`,
      hint: "a key may appear only once in a mapping: keep the one with the value you mean and remove the other",
      range: at,
    };
  });
  return issue;
}

// --- internal ---

/** every pair of every mapping, with the path of the mapping that holds it */
function forEachPair(root: unknown, at: SpecPath, each: (pair: Pair, map: Node, at: SpecPath) => void) {
  if (isMap(root)) {
    for (const pair of root.items) {
      each(pair, root as Node, at);
      const key = isScalar(pair.key) ? pair.key.value : undefined;
      if (typeof key === "string" || typeof key === "number") forEachPair(pair.value, [...at, key], each);
    }
  } else if (isSeq(root)) {
    for (const [index, item] of root.items.entries()) forEachPair(item, [...at, index], each);
  }
}

type Node = { range?: [number, number, number] | null };

/** the line up to here opens more `{`/`[` than it closes (a `{{ }}` template aside) */
function inFlow(before: string): boolean {
  const stripped = before.replace(/\{\{.*?\}\}/g, "");
  return (stripped.match(/[{[]/g)?.length ?? 0) > (stripped.match(/[}\]]/g)?.length ?? 0);
}

/** the value written from the start of `rest`: to the line's end or comment, or in flow to its `,` `}` `]` */
function writtenValue(rest: string, flow: boolean): string {
  let end = rest.length;
  let depth = 0;
  for (let index = 0; index < rest.length; index++) {
    const pair = rest.slice(index, index + 2);
    if (pair === "{{" || pair === "}}") {
      depth += pair === "{{" ? 1 : -1;
      index++;
    } else if (depth <= 0 && /\s/.test(rest[index]!) && rest[index + 1] === "#") {
      end = index;
      break;
    } else if (depth <= 0 && flow && /[,}\]]/.test(rest[index]!)) {
      end = index;
      break;
    }
  }
  return rest.slice(0, end).trim();
}

/** `value` as a YAML quoted scalar: double quotes, or single ones when it holds a double quote */
function quote(value: string): string {
  if (!value.includes('"')) return `"${value.replace(/\\/g, "\\\\")}"`;
  return `'${value.replace(/'/g, "''")}'`;
}
