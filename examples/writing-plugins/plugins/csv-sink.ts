/**
 * A CSV sink: one line per row, `id,status,output` by default. The example of docs/writing-plugins.md.
 *
 * Exactly-once, like the built-in jsonl sink: `commit` flushes and fsyncs and returns the file's
 * size as the checkpoint; `open` truncates the file to the checkpoint it is given, dropping what a
 * crashed run wrote after its last commit.
 */
import { mkdir, open } from "node:fs/promises";
import { dirname } from "node:path";
import { BatchpipeError, defineSink, type ResultRow, z } from "@batchpipe/core/plugin";

const COLUMNS = ["id", "status", "output", "error", "model", "file", "line"] as const;

export default defineSink({
  name: "csv",
  options: z.strictObject({
    path: z.string().min(1).meta({ description: "The CSV file, relative to the spec file." }),
    columns: z.array(z.enum(COLUMNS)).min(1).default(["id", "status", "output"]),
  }),
  async open({ options, resolvePath, checkpoint }) {
    const path = resolvePath(options.path);
    await mkdir(dirname(path), { recursive: true });
    if (checkpoint !== undefined && typeof checkpoint !== "number") {
      throw new BatchpipeError("PLUGIN_FAILED", `invalid checkpoint for ${path}`, { plugin: "sink:csv" });
    }
    // "a" would ignore write positions on Linux: create the file, then open it read-write
    await (await open(path, "a")).close();
    const file = await open(path, "r+");
    let position = checkpoint ?? 0;
    await file.truncate(position);
    let pending = position === 0 ? `${options.columns.join(",")}\n` : "";
    return {
      async write(rows) {
        for (const row of rows)
          pending += `${options.columns.map((c) => csvField(cell(row, c))).join(",")}\n`;
      },
      async commit() {
        const data = Buffer.from(pending);
        pending = "";
        await file.write(data, 0, data.length, position);
        await file.datasync();
        position += data.length;
        return position;
      },
      async close() {
        // rows written but not committed are dropped on purpose: only commit makes them durable
        await file.close();
      },
    };
  },
});

function cell(row: ResultRow, column: (typeof COLUMNS)[number]): unknown {
  switch (column) {
    case "output":
      return row.status === "success" ? row.output : null;
    case "error":
      return row.status === "failed" ? row.error.code : null;
    case "model":
      return row.status === "success" ? row.model : null;
    case "file":
      return row.source.file;
    case "line":
      return row.source.line;
    default:
      return row[column];
  }
}

/** RFC 4180 quoting; objects become JSON, so a field never holds a raw newline from a structure */
function csvField(value: unknown): string {
  if (value === null || value === undefined) return "";
  const text = typeof value === "string" ? value : JSON.stringify(value);
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}
