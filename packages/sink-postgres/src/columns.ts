/**
 * The columns the sink knows, how a created table declares them, and each row's value for a column.
 * A statement's rows travel as one JSON text (one parameter, one JSON.stringify: much cheaper on
 * both sides than an array parameter per column); the INSERT takes each value out of it and casts
 * it to the column's type, so an existing table may declare json, jsonb, text, integer, … as it likes.
 */
import type { ResultRow } from "@batchpipe/core/plugin";

export const COLUMN_NAMES = [
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
  "source_file",
  "source_line",
  "created_at",
] as const;

export type ColumnName = (typeof COLUMN_NAMES)[number];

/** the declaration of each column in a table the sink creates */
export const CREATE_TYPES: Record<ColumnName, string> = {
  id: "text PRIMARY KEY",
  status: "text NOT NULL",
  output: "jsonb",
  response: "jsonb",
  usage: "jsonb",
  model: "text",
  batch_id: "text",
  attempts: "integer",
  input: "jsonb",
  error: "jsonb",
  source_file: "text",
  source_line: "bigint",
  created_at: "timestamptz NOT NULL DEFAULT now()",
};

/** a row's value for one column, as it goes into the batch's JSON (null for SQL NULL) */
export type Getter = (row: ResultRow) => unknown;

export const GETTERS: Record<Exclude<ColumnName, "created_at">, Getter> = {
  id: (row) => row.id,
  status: (row) => row.status,
  output: (row) => (row.status === "success" ? row.output : null),
  response: (row) => (row.status === "success" ? row.response : null),
  usage: (row) => (row.status === "success" ? row.usage : null),
  model: (row) => (row.status === "success" ? row.model : null),
  batch_id: (row) => row.batch_id,
  attempts: (row) => row.attempts,
  input: (row) => row.input,
  error: (row) => (row.status === "failed" ? row.error : null),
  source_file: (row) => row.source?.file ?? null,
  source_line: (row) => row.source?.line ?? null,
};

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
