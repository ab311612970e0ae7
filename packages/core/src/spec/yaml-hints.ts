/**
 * Hints for YAML mistakes a spec author makes, found in the parsed document and its text: an
 * unquoted value that YAML reads as something else (a template `{{ x }}` read as a mapping, a value
 * that starts with `@` or holds `: `), and the hint that shows it quoted.
 */
import { type Document, isCollection, isMap, isScalar, isSeq, type Pair } from "yaml";
import type { SpecIssue, SpecPath } from "./issues.js";

/** the hint for `key: value` where `value` is written unquoted; undefined when quoting would not help */
export function valueHint(key: string, value: string): string | undefined {
  if (value === "" || /^["']/.test(value)) return undefined;
  const reason = value.includes("{{")
    ? "a {{ … }} template must be quoted, or YAML reads its braces as a mapping"
    : /^[@`]/.test(value)
      ? `a value cannot start with ${value[0]} unquoted`
      : /:\s/.test(value)
        ? 'a value that holds ": " must be quoted, or YAML reads it as a nested key'
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

/** `value` as a YAML quoted scalar: double quotes, or single ones when it holds a double quote */
function quote(value: string): string {
  if (!value.includes('"')) return `"${value.replace(/\\/g, "\\\\")}"`;
  return `'${value.replace(/'/g, "''")}'`;
}
