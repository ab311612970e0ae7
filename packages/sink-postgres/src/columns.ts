/**
 * How a created table declares a column, and the rows' values as one JSON text.
 * A statement's rows travel as one JSON text (one parameter, one JSON.stringify: much cheaper on
 * both sides than an array parameter per column); the INSERT takes each value out of it and casts
 * it to the column's type, so an existing table may declare json, jsonb, text, integer, … as it likes.
 */
import {
  type Column,
  type ColumnsOption,
  compileColumns,
  type PluginProblem,
  type ResultRow,
} from "@batchpipe/core/plugin";

/** PostgreSQL keeps the first NAMEDATALEN - 1 bytes of an identifier, quoted or not */
export const NAME_BYTES = 63;

/** how a table the sink creates declares a column (the projection's columns are shared with sink-sqlite) */
export function createType(column: Column): string {
  if (column.name === "id") return "text PRIMARY KEY";
  if (column.name === "status") return "text NOT NULL";
  switch (column.kind) {
    case "text":
      return "text";
    case "integer":
      return column.path.join(".") === "attempts" ? "integer" : "bigint";
    case "time":
      return "timestamptz NOT NULL DEFAULT now()";
    default:
      // a JSON field, or a path's value (any JSON value)
      return "jsonb";
  }
}

/** a row's value for one column, as it goes into the batch's JSON (null for SQL NULL) */
export type Getter = (row: ResultRow) => unknown;

/**
 * The rows of one statement as one JSON text: an array of rows, each an array of its column
 * values. PostgreSQL's text and jsonb cannot hold U+0000, and jsonb refuses lone surrogates:
 * JSON.stringify writes both as \u escapes (the only \ud800–\udfff escapes it writes are lone
 * ones), which become \ufffd. An escape is one only after an odd run of backslashes.
 */
export function batchJson(rows: readonly ResultRow[], getters: readonly Getter[]): string {
  const json = JSON.stringify(rows.map((row) => getters.map((get) => get(row) ?? null)));
  if (!json.includes("\\u")) return json;
  return json.replace(/(\\+)u(0000|d[89a-f][0-9a-f]{2})/g, (match, slashes: string) =>
    slashes.length % 2 === 1 ? `${slashes}ufffd` : match,
  );
}

/**
 * Column names PostgreSQL would cut: the table got the cut name, which the sink never matched, so
 * the column stayed NULL in every row (and a rerun warned that it was not written). Names are
 * ASCII (the option's pattern), so a byte is a character.
 */
export function longColumnNames(option: ColumnsOption | undefined): PluginProblem[] {
  return compileColumns(option)
    .filter((c) => c.name.length > NAME_BYTES)
    .map((c) => ({
      option: "columns",
      message: `the column name "${c.name}" has ${c.name.length} characters: PostgreSQL keeps the first ${NAME_BYTES} of a name, so the sink could not write it`,
      hint: `name it in ${NAME_BYTES} characters or fewer, e.g. { ${c.name.slice(0, 20).replace(/_+$/, "")}: ${c.path.join(".")} }`,
    }));
}
