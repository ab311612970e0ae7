import { join } from "node:path";
import { testSink } from "@batchpipe/core/testing";
import Database from "better-sqlite3";
import { test } from "vitest";
import sink from "../src/index.js";

const checks = testSink(sink, {
  makeOptions: () => ({ path: "out/results.db", table: "sentiment" }),
  readBack: (options, dir) => {
    const db = new Database(join(dir, options.path), { readonly: true });
    try {
      const rows = db.prepare(`SELECT id, status, output, error FROM "${options.table}"`).all() as {
        id: string;
        status: string;
        output: string | null;
        error: string | null;
      }[];
      return rows.map((row) => ({
        id: row.id,
        status: row.status,
        ...(row.status === "success"
          ? { output: parseOutput(row.output) }
          : { error: JSON.parse(row.error!) }),
      }));
    } finally {
      db.close();
    }
  },
  invalidOptions: [
    { options: { path: "x.db", table: "bad-name" }, path: ["table"] },
    { options: { path: "x.db", table: "1abc" }, path: ["table"] },
    { options: { path: "x.db", table: 'x"; DROP TABLE t; --' }, path: ["table"] },
    { options: { table: "ok" }, path: ["path"] },
    // "-" is standard input to the sources; here it was a file named "-"
    { options: { path: "-" }, path: ["path"] },
  ],
});

for (const check of checks) test(check.name, check.run);

// output is plain text when the row's output was a string, JSON otherwise
function parseOutput(text: string | null): unknown {
  if (text === null) return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
