/**
 * Row projections (DESIGN §1 "What reaches the sinks"): which fields or paths of a row a sink
 * keeps. One option syntax for every sink: a list whose entries are a path (`id`, `usage`,
 * `output.sentiment`, `source.line`) or a one-key map `{ name: path }` that renames it; `all` keeps
 * the whole row. A path's name is the path with `.` as `_` (`output.sentiment` → `output_sentiment`,
 * the column name a table sink uses). Paths are split once, when the projection is compiled.
 *
 * The default keeps what most users keep: a success row's `id, status, output, usage, model,
 * batch_id, attempts` (not `response`, `input` nor `source`: on request), and a failure row whole
 * (`id, status, error, attempts, batch_id, input, source`): failures are few, and their input is
 * what one needs to act on them.
 */
import { z } from "zod";
import type { ResultRow } from "../plugin.js";
import { closest } from "../spec/issues.js";

/** the top-level fields a path may start with */
export const ROW_FIELDS = [
  "id",
  "status",
  "output",
  "response",
  "usage",
  "model",
  "batch_id",
  "attempts",
  "input",
  "error",
  "source",
] as const;

/** a success row's fields under the default projection (failure rows are kept whole) */
export const DEFAULT_SUCCESS_FIELDS = [
  "id",
  "status",
  "output",
  "usage",
  "model",
  "batch_id",
  "attempts",
] as const;

/**
 * The default columns of a table sink: the default fields of both kinds of row. `input`,
 * `source_file` and `source_line` are filled for failures only (NULL for successes); `created_at`
 * is the time the row was first written.
 */
export const DEFAULT_COLUMNS = [
  ...DEFAULT_SUCCESS_FIELDS,
  "error",
  "input",
  "source_file",
  "source_line",
  "created_at",
] as const;

/** the whole row, as table columns (the `columns: all` of a table sink): the order earlier versions created */
export const ALL_COLUMNS = [
  ...ROW_FIELDS.filter((field) => field !== "source"),
  "source_file",
  "source_line",
  "created_at",
] as const;

const PATH = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_-]+)*$/;
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * The option's shape is checked loosely (so a wrong entry is reported at its own place, not as "the
 * list is wrong"), then each entry by `entryProblems`.
 */
function projectionSchema(extra: readonly string[], names: "any" | "identifier") {
  // the patterns are for editors (the JSON Schema); entryProblems checks them with better messages
  const path = z.string().meta({ pattern: PATH.source });
  const name =
    names === "identifier"
      ? z.string().meta({ pattern: IDENTIFIER.source })
      : z.string().meta({ minLength: 1 });
  const entry = z.union([path, z.record(name, path)]);
  const shape = (input: unknown) => {
    const list: unknown[] = Array.isArray(input) ? input : [];
    const bad = list.findIndex((e) => !isEntryShape(e));
    return bad >= 0
      ? `entry ${bad + 1} (${describeEntry(list[bad])}) must be a path (e.g. output.sentiment) or one { name: path }`
      : 'must be "all" or a list of row fields and paths, e.g. [id, output, usage]';
  };
  return z
    .union([z.literal("all"), z.array(entry).min(1)], { error: (issue) => shape(issue.input) })
    .superRefine((value, ctx) => {
      if (value === "all") return;
      const seen = new Set<string>();
      for (const [i, item] of value.entries()) {
        for (const message of entryProblems(item, extra, names, seen))
          ctx.addIssue({ code: "custom", path: [i], message });
      }
    });
}

/**
 * What is wrong with one entry: its path, its name (table sinks: a plain SQL identifier, compared
 * without case as SQL does), a name used twice (`seen`), or a renamed path that takes the name of
 * a row field's own column (`{ id: usage.total_tokens }` would overwrite every row's id).
 */
function entryProblems(
  item: Entry,
  extra: readonly string[],
  names: "any" | "identifier",
  seen: Set<string>,
): string[] {
  const problems: string[] = [];
  if (typeof item !== "string" && Object.keys(item).length !== 1) return ["one { name: path } per entry"];
  const { name, path } = parseEntry(item);
  const starts = [...ROW_FIELDS, ...extra];
  const first = path.split(".")[0]!;
  const validPath = PATH.test(path);
  if (!validPath) {
    problems.push(
      `${JSON.stringify(path)} is not a path: a row field, or a dotted path into one of letters, digits, _ and - (e.g. output.sentiment)`,
    );
  } else if (!starts.includes(first)) {
    const near = closest(first, starts);
    problems.push(
      `${JSON.stringify(path)} must start with a row field${near ? ` (did you mean "${near}"?)` : ""}: ${starts.join(", ")}`,
    );
  }
  const table = names === "identifier";
  if (name === "") problems.push("a name must not be empty");
  // a path entry's name comes from its path: a wrong path is reported once, above
  else if (table && !IDENTIFIER.test(name) && (validPath || typeof item !== "string")) {
    const example = /^[A-Za-z0-9_.]+$/.test(path) ? path : "output.field";
    problems.push(
      `its column name "${name}" is not a plain SQL identifier (letters, digits, _, not starting with a digit): rename it, e.g. { my_name: ${example} }`,
    );
  }
  const key = table ? name.toLowerCase() : name;
  const own = table ? starts : ["id", "status"];
  if (typeof item !== "string" && own.includes(key) && name !== path) {
    problems.push(
      path === key
        ? `"${name}" differs from the row field ${path} only by case: write ${path}`
        : `"${name}" is the name of the row's own ${key} ${table ? "column" : "field"}: give ${path} a name of its own, e.g. { my_${key}: ${path} }`,
    );
  }
  if (seen.has(key)) problems.push(`"${name}" is named twice`);
  seen.add(key);
  return problems;
}

function isEntryShape(entry: unknown): boolean {
  if (typeof entry === "string") return true;
  if (entry === null || typeof entry !== "object" || Array.isArray(entry)) return false;
  return Object.values(entry).every((value) => typeof value === "string");
}

function describeEntry(entry: unknown): string {
  const text = JSON.stringify(entry) ?? String(entry);
  return text.length > 60 ? `${text.slice(0, 60)}…` : text;
}

/** `fields:` of a JSON-shaped sink (sink-jsonl) */
export const fieldsOption = projectionSchema([], "any").meta({
  description:
    "What each line keeps: `all` (the whole row, incl. response and input), or a list of row fields and dotted paths (e.g. output.sentiment, usage.total_tokens; a path's key is the path with . as _), each optionally renamed as { name: path }. Default: a success keeps id, status, output, usage, model, batch_id, attempts; a failure is kept whole.",
  examples: ["all", "[id, output, usage]", "[id, output.sentiment, { tokens: usage.total_tokens }]"],
});

/** `columns:` of a table sink (sink-sqlite, sink-postgres): also `source_file`, `source_line`, `created_at` */
export const columnsOption = projectionSchema(
  ["source_file", "source_line", "created_at"],
  "identifier",
).meta({
  description:
    "The table's columns: `all` (adds response and input for every row), or a list of row fields and dotted paths (a column's name is the path with . as _), each optionally renamed as { name: path }; id and status are always written. Default: id, status, output, usage, model, batch_id, attempts, error, input and source_file, source_line (for failures), created_at.",
  examples: [
    "all",
    "[id, output, usage, response]",
    "[id, output.sentiment, { tokens: usage.total_tokens }]",
  ],
});

export type FieldsOption = z.output<typeof fieldsOption>;
export type ColumnsOption = z.output<typeof columnsOption>;
type Entry = string | Record<string, string>;

/** A compiled JSON projection: the object a row becomes (the row itself when nothing is dropped). */
export type RowProjector = (row: ResultRow) => unknown;

/** What a compiled projection tells its sink (through the sink's logger). */
export interface ProjectionHooks {
  /**
   * A path reaches into a field that holds text or a number (`output.sentiment` where a row's
   * `output` is the model's text: its requests did not ask for JSON output), so it has no value
   * in such rows. Said once per path.
   */
  warn?(message: string): void;
}

/** compile `fields:` (undefined: the default) once; the projector runs per row */
export function compileFields(option: FieldsOption | undefined, hooks: ProjectionHooks = {}): RowProjector {
  if (option === "all") return (row) => row;
  if (option === undefined) {
    const success = compileObject(DEFAULT_SUCCESS_FIELDS, hooks);
    // the failure row is kept whole
    return (row) => (row.status === "success" ? success(row) : row);
  }
  return compileObject(option, hooks);
}

/** One column of a table sink. */
export interface Column {
  name: string;
  /** the path it comes from, split (`created_at` is the time of the first write) */
  path: readonly string[];
  /** a top-level field (its type is known) or a path into one (any JSON value) */
  kind: ColumnKind;
  /** the row's value, undefined when the row does not have it */
  get: (row: ResultRow) => unknown;
}

/**
 * What a column holds: text (`id`, `status`, `model`, `batch_id`, `source_file`), integer
 * (`attempts`, `source_line`), time (`created_at`), JSON (a top-level object field: `output`,
 * `response`, `usage`, `input`, `error`), or a value (a path into a field: whatever it holds).
 */
export type ColumnKind = "text" | "integer" | "time" | "json" | "value";

/**
 * compile `columns:` (undefined: the default) once. `id` and `status` are always the first columns. The default's
 * `input`, `source_file` and `source_line` are read from failure rows only.
 */
export function compileColumns(option: ColumnsOption | undefined, hooks: ProjectionHooks = {}): Column[] {
  const entries: readonly Entry[] = option === "all" ? ALL_COLUMNS : (option ?? DEFAULT_COLUMNS);
  const columns = entries.map((entry) => {
    const { name, path } = parseEntry(entry);
    return column(name, path, hooks);
  });
  if (option === undefined) {
    for (const c of columns) {
      if (c.name !== "input" && c.name !== "source_file" && c.name !== "source_line") continue;
      const get = c.get;
      c.get = (row) => (row.status === "failed" ? get(row) : undefined);
    }
  }
  // id (the upsert key) and status come first, listed or not
  const rest = columns.filter((c) => c.name !== "id" && c.name !== "status");
  const pick = (name: string) => columns.find((c) => c.name === name) ?? column(name, name);
  return [pick("id"), pick("status"), ...rest];
}

/** whether `columns` is the default projection (so a sink may keep a table's own column set) */
export function isDefaultColumns(option: ColumnsOption | undefined): boolean {
  return option === undefined;
}

/**
 * What a table sink that upserts by id says at open when the table, which holds rows, has columns
 * its `columns` do not write (`unwritten`; an earlier run listed them): the rows it writes again
 * keep an earlier run's values there. `table` as SQL names it (quoted), for the DROP COLUMN.
 */
export function unwrittenColumnsWarning(unwritten: readonly string[], table: string): string {
  const one = unwritten.length === 1;
  return (
    `the table has the column${one ? "" : "s"} ${unwritten.join(", ")}, which these columns do not write: the rows this run writes keep what an earlier run left there, which may not belong to their new output. ` +
    `List ${one ? "its entry" : "their entries"} in columns again, or drop ${one ? "it" : "them"} (${unwritten.map((name) => `ALTER TABLE ${table} DROP COLUMN "${name}"`).join("; ")})`
  );
}

// --- internal ---

function parseEntry(entry: Entry): { name: string; path: string } {
  if (typeof entry === "string") return { name: entry.replaceAll(".", "_"), path: entry };
  // a map with no key of its own (YAML's `{ __proto__: output }`) is refused by entryProblems
  const [name, path] = Object.entries(entry)[0] ?? ["", ""];
  return { name, path };
}

const KINDS: Record<string, ColumnKind> = {
  id: "text",
  status: "text",
  model: "text",
  batch_id: "text",
  source_file: "text",
  attempts: "integer",
  source_line: "integer",
  created_at: "time",
};

function column(name: string, path: string, hooks: ProjectionHooks = {}): Column {
  const split = aliased(path).split(".");
  const kind = KINDS[path] ?? (split.length === 1 ? "json" : "value");
  return { name, path: split, kind, get: getter(split, hooks) };
}

/** `source_file` and `source_line` are the table names of `source.file` and `source.line` */
function aliased(path: string): string {
  return path === "source_file" ? "source.file" : path === "source_line" ? "source.line" : path;
}

/** a getter for a split path: one property read per segment, undefined where the path ends early */
function getter(path: readonly string[], hooks: ProjectionHooks = {}): (row: ResultRow) => unknown {
  const [first, second, ...rest] = path as [string, ...string[]];
  if (second === undefined) return (row) => (row as unknown as Record<string, unknown>)[first];
  const intoScalar = hooks.warn && scalarWarning(path.join("."), first, hooks.warn);
  return (row) => {
    let value = (row as unknown as Record<string, unknown>)[first];
    if (intoScalar && value !== undefined && value !== null && typeof value !== "object")
      intoScalar(row, value);
    value = step(value, second);
    for (let i = 0; i < rest.length && value !== undefined; i++) value = step(value, rest[i]!);
    return value;
  };
}

/** the warning of a path that reaches into a row's text or number, said once */
function scalarWarning(
  path: string,
  field: string,
  warn: (message: string) => void,
): (row: ResultRow, value: unknown) => void {
  let said = false;
  return (row, value) => {
    if (said) return;
    said = true;
    const shown =
      typeof value === "string"
        ? `text (${JSON.stringify(value.slice(0, 40))}${value.length > 40 ? "…" : ""})`
        : typeof value;
    const why =
      field === "output"
        ? " Ask for JSON output in the request body (e.g. response_format: { type: json_schema, … }), or keep `output` itself."
        : "";
    warn(
      `${path} has no value: in row "${row.id}" (and maybe others) \`${field}\` is ${shown}, which has no fields.${why}`,
    );
  };
}

function step(value: unknown, key: string): unknown {
  return value !== null && typeof value === "object" && Object.hasOwn(value, key)
    ? (value as Record<string, unknown>)[key]
    : undefined;
}

/** an object of the entries' values, in their order; a value the row lacks is left out */
function compileObject(entries: readonly Entry[], hooks: ProjectionHooks): RowProjector {
  const names: string[] = [];
  const getters: ((row: ResultRow) => unknown)[] = [];
  for (const entry of entries) {
    const { name, path } = parseEntry(entry);
    names.push(name);
    getters.push(getter(path.split("."), hooks));
  }
  const count = names.length;
  return (row) => {
    const out: Record<string, unknown> = {};
    for (let i = 0; i < count; i++) {
      const value = getters[i]!(row);
      if (value !== undefined) out[names[i]!] = value;
    }
    return out;
  };
}
