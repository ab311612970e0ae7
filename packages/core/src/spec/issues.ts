/** Turn zod issues into spec issues: short messages, a path, and "did you mean" hints. */
import type { z } from "zod";

export type SpecPath = (string | number)[];

/** One problem in a spec, before it is located in the file. */
export interface SpecIssue {
  path: SpecPath;
  message: string;
  hint?: string;
  /** SPEC_INVALID unless a plugin could not be found or loaded */
  code?: string;
  /** point at the key of the last path segment rather than at its value (unknown keys) */
  atKey?: boolean;
  /** an exact place in the file (offsets), when the path is not precise enough */
  range?: [number, number];
  /** what went wrong underneath (a plugin module's own error): its stack is printed under --debug */
  cause?: unknown;
}

/** Messages for zod issues that read well after `path:`. Schema-level messages take precedence. */
export function specErrorMap(issue: z.core.$ZodRawIssue): string | undefined {
  switch (issue.code) {
    case "invalid_type":
      if (issue.input === undefined) return `is required (expected ${article(issue.expected)})`;
      return `expected ${article(issue.expected)}, got ${describeValue(issue.input)}`;
    case "too_small":
      if (issue.origin === "array")
        return `expected at least ${issue.minimum} item${issue.minimum === 1 ? "" : "s"}`;
      if (issue.origin === "string")
        return issue.minimum === 1 ? "must not be empty" : `expected at least ${issue.minimum} characters`;
      return `must be ${issue.inclusive ? "at least" : "greater than"} ${issue.minimum}`;
    case "too_big":
      if (issue.origin === "array") return `expected at most ${issue.maximum} items`;
      if (issue.origin === "string") return `expected at most ${issue.maximum} characters`;
      return `must be ${issue.inclusive ? "at most" : "less than"} ${issue.maximum}`;
    case "invalid_value":
      // the choice written, so a typo shows (`got "skipp"`, not `got a string`)
      return `expected ${issue.values.map((value) => JSON.stringify(value)).join(" or ")}, got ${typeof issue.input === "string" && issue.input.length <= 60 ? JSON.stringify(issue.input) : describeValue(issue.input)}`;
    default:
      return undefined;
  }
}

/** Convert a failed parse into spec issues, with paths under `prefix` and key suggestions from `schema`. */
export function issuesFromZod(
  error: z.ZodError,
  options: { prefix?: SpecPath; schema: z.ZodType; input: unknown },
): SpecIssue[] {
  const prefix = options.prefix ?? [];
  const issues: SpecIssue[] = [];
  for (const issue of error.issues) {
    const path = issue.path.filter((key) => typeof key !== "symbol") as SpecPath;
    if (issue.code === "unrecognized_keys") {
      const known = knownKeys(options.schema, path);
      for (const key of issue.keys) issues.push(unknownKeyIssue([...prefix, ...path, key], known));
      continue;
    }
    let hint: string | undefined;
    const input = valueAt(options.input, path);
    if (issue.code === "invalid_value" && typeof input === "string") {
      const suggestion = closest(
        input,
        issue.values.filter((value): value is string => typeof value === "string"),
      );
      if (suggestion) hint = `did you mean "${suggestion}"?`;
    }
    hint ??= fieldDescription(options.schema, path);
    issues.push({ path: [...prefix, ...path], message: issue.message, hint });
  }
  return issues;
}

/** `unknown key "x"` at the key, suggesting the closest of `known` */
export function unknownKeyIssue(path: SpecPath, known: string[]): SpecIssue {
  const key = String(path[path.length - 1]);
  const suggestion = closest(key, known);
  return {
    path,
    message: `unknown key "${key}"`,
    hint: suggestion
      ? `did you mean "${suggestion}"?`
      : known.length > 0
        ? `valid keys here: ${known.join(", ")}`
        : undefined,
    atKey: true,
  };
}

/** The keys an object schema accepts at `path` (unwrapping optional, default, pipe, array…). */
export function knownKeys(schema: z.ZodType, path: SpecPath): string[] {
  const def = defOf(unwrap(schemaAt(schema, path), false));
  return def?.type === "object" ? Object.keys(def.shape as object) : [];
}

/** The `.meta({ description })` of the field at `path`, if it has one. */
export function fieldDescription(schema: z.ZodType, path: SpecPath): string | undefined {
  let current = schemaAt(schema, path);
  for (let depth = 0; current && depth < 20; depth++) {
    const description = (current as { description?: unknown }).description;
    if (typeof description === "string") return description;
    const def = defOf(current);
    current = def?.innerType ?? (def?.type === "pipe" ? def.in : undefined);
  }
  return undefined;
}

/** The candidate closest to `input` by edit distance, if it is close enough to be a likely typo. */
export function closest(input: string, candidates: readonly string[]): string | undefined {
  // no name is that long, and editDistance is quadratic (a 1 MB value made validate hang)
  if (input.length > 256) return undefined;
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of candidates) {
    // the distance is at least the length difference: this one cannot win
    if (Math.abs(input.length - candidate.length) >= bestDistance) continue;
    const distance = editDistance(input.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  const limit = Math.max(1, Math.floor((best?.length ?? 0) / 3));
  return bestDistance <= limit ? best : undefined;
}

/** A short description of a value for messages: strings are not quoted back (they may be secrets). */
export function describeValue(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  switch (typeof value) {
    case "string":
      return "a string";
    case "number":
      return `the number ${value}`;
    case "boolean":
      return `${value}`;
    case "object":
      return "a mapping";
    case "undefined":
      return "nothing";
    default:
      return typeof value;
  }
}

// --- internal ---

function valueAt(root: unknown, path: SpecPath): unknown {
  let value = root;
  for (const key of path) {
    if (value === null || typeof value !== "object") return undefined;
    value = (value as Record<string | number, unknown>)[key];
  }
  return value;
}

interface ZodDef {
  type: string;
  shape?: unknown;
  innerType?: unknown;
  in?: unknown;
  element?: unknown;
  options?: unknown[];
}

function defOf(schema: unknown): ZodDef | undefined {
  return (schema as { _zod?: { def?: ZodDef } } | undefined)?._zod?.def;
}

/** the schema of the field at `path`, before unwrapping it */
function schemaAt(schema: unknown, path: SpecPath): unknown {
  let current = schema;
  for (const key of path) {
    current = unwrap(current, typeof key === "number");
    if (typeof key === "number") continue;
    const def = defOf(current);
    if (def?.type !== "object") return undefined;
    current = (def.shape as Record<string, unknown>)[key];
    if (current === undefined) return undefined;
  }
  return current;
}

function unwrap(schema: unknown, intoArray: boolean): unknown {
  let current = schema;
  for (let depth = 0; depth < 20; depth++) {
    const def = defOf(current);
    if (!def) return current;
    if (def.innerType !== undefined) current = def.innerType;
    else if (def.type === "pipe") current = def.in;
    else if (intoArray && def.type === "array") return def.element;
    else if (def.type === "union")
      current =
        def.options?.find((option) => defOf(unwrap(option, intoArray))?.type === "object") ??
        def.options?.[0];
    else return current;
  }
  return current;
}

function article(type: string): string {
  const names: Record<string, string> = {
    object: "a mapping",
    record: "a mapping",
    map: "a mapping",
    tuple: "a list",
    array: "a list",
    string: "a string",
    number: "a number",
    int: "an integer",
    boolean: "true or false",
    null: "null",
  };
  return names[type] ?? type;
}

/** edit distance where swapping two neighbours counts as one edit (optimal string alignment) */
function editDistance(a: string, b: string): number {
  const rows = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(rows[i - 1]![j]! + 1, rows[i]![j - 1]! + 1, rows[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        best = Math.min(best, rows[i - 2]![j - 2]! + 1);
      rows[i]![j] = best;
    }
  }
  return rows[a.length]![b.length]!;
}
