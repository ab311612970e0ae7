// A sqlite sink's columns changed between two runs on one table, through the real CLI: the table the
// default columns created has a NOT NULL created_at, so columns without it are refused at open;
// the refusal leaves the table as it was, and its hint, pasted into the spec, is the fix.
import fs from "node:fs";
import path from "node:path";
import { expect, it } from "vitest";
import {
  batchpipe,
  querySqlite as query,
  tempDir,
  writeDataset,
  writeEmulatorPipeline,
} from "./support/harness.js";

/** the spec with `sink` as its one sink */
function setSink(spec: string, sink: string): void {
  const text = fs.readFileSync(spec, "utf8").replace(/^sinks: .*$/m, `sinks: [${sink}]`);
  fs.writeFileSync(spec, text);
}

it("columns an existing table refuses: the table is unchanged, and the hint's list, pasted into the spec, runs", async () => {
  const dir = tempDir("bp-sqlite-columns-");
  writeDataset(dir, 5);
  const spec = writeEmulatorPipeline(dir, { name: "sqlite-columns", source: "./data.jsonl" });
  const db = path.join(dir, "o/h.db");
  setSink(spec, "{ use: sqlite, path: ./o/h.db }");
  const first = await batchpipe(["run", "pipeline.yaml"], { cwd: dir });
  expect(first.code, first.stderr).toBe(0);
  const schema = () => query(db, "SELECT sql FROM sqlite_master WHERE name = 'results'");
  const before = schema();

  setSink(spec, "{ use: sqlite, path: ./o/h.db, columns: [output.echo, { tokens: usage.total_tokens }] }");
  const refused = await batchpipe(["run", "pipeline.yaml"], { cwd: dir });
  expect(refused.code).toBe(1);
  expect(refused.stderr).toContain("NOT NULL column(s) created_at");
  expect(refused.stderr).toContain("PLUGIN_FAILED");
  expect(schema()).toEqual(before);
  const columns = /e\.g\. (columns: \[.*\])\), or name another table/.exec(refused.stderr)?.[1];
  expect(columns).toBe("columns: [id, status, output.echo, { tokens: usage.total_tokens }, created_at]");

  setSink(spec, `{ use: sqlite, path: ./o/h.db, ${columns} }`);
  const fixed = await batchpipe(["run", "pipeline.yaml"], { cwd: dir });
  expect(fixed.code, fixed.stderr).toBe(0);
  // the emulator's output is text: output.echo has no value (and says so); tokens is an integer
  expect(
    query(db, "SELECT DISTINCT typeof(output_echo) AS echo, typeof(tokens) AS tokens FROM results"),
  ).toEqual([{ echo: "null", tokens: "integer" }]);
});
