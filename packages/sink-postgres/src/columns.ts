/**
 * The columns the sink knows, how a created table declares them, and each row's value for a column
 * as text (every value travels as text in one array per column; the INSERT casts it to the
 * column's type, so an existing table may declare json, jsonb, text, integer, … as it likes).
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

/** a row's value for one column as text (NULL as null); `json`: the column is json or jsonb */
export type Encoder = (row: ResultRow) => string | null;

export function encoderFor(column: Exclude<ColumnName, "created_at">, json: boolean): Encoder {
  switch (column) {
    case "id":
      return (row) => text(row.id);
    case "status":
      return (row) => row.status;
    case "output":
      // a string output is plain text in a text column, a JSON string in a json column
      return (row) =>
        row.status !== "success"
          ? null
          : typeof row.output === "string" && !json
            ? text(row.output)
            : jsonText(row.output);
    case "response":
      return (row) => (row.status === "success" ? jsonText(row.response) : null);
    case "usage":
      return (row) => (row.status === "success" ? jsonText(row.usage) : null);
    case "model":
      return (row) => (row.status === "success" ? nullableText(row.model) : null);
    case "batch_id":
      return (row) => nullableText(row.batch_id);
    case "attempts":
      return (row) => String(row.attempts);
    case "input":
      return (row) => jsonText(row.input);
    case "error":
      return (row) => (row.status === "failed" ? jsonText(row.error) : null);
    case "source_file":
      return (row) => nullableText(row.source?.file);
    case "source_line":
      return (row) => (row.source?.line === undefined ? null : String(row.source.line));
  }
}

// --- internal ---

/**
 * PostgreSQL text cannot hold U+0000: it becomes U+FFFD. (A lone surrogate becomes U+FFFD too,
 * when the driver encodes the text as UTF-8.)
 */
function text(value: string): string {
  return value.includes("\u0000") ? value.replaceAll("\u0000", "\ufffd") : value;
}

function nullableText(value: string | null | undefined): string | null {
  return value === null || value === undefined ? null : text(value);
}

/**
 * JSON text, or NULL for a missing value (and for one JSON cannot hold, such as a function). jsonb
 * refuses the escapes \u0000 and lone surrogates (JSON.stringify writes the only \ud800–\udfff
 * escapes for lone ones): they become \ufffd. An escape is one only after an odd run of backslashes.
 */
function jsonText(value: unknown): string | null {
  if (value === undefined || value === null) return null;
  const json = JSON.stringify(value);
  if (json === undefined) return null;
  if (!json.includes("\\u")) return json;
  return json.replace(/(\\+)u(0000|d[89a-f][0-9a-f]{2})/g, (match, slashes: string) =>
    slashes.length % 2 === 1 ? `${slashes}ufffd` : match,
  );
}
