// What a rerun leaves in sqlite tables, through the real CLI: a record whose changed request now
// fails at the provider loses the success row an earlier run left in the result table (it stayed, an
// answer to a request that no longer exists, beside the record's failure in the errors sink); a
// record that failed and now succeeds loses its failure row in an errors table (it stayed, a failure
// that no longer is).
import fs from "node:fs";
import path from "node:path";
import { expect, it } from "vitest";
import {
  batchpipe,
  querySqlite,
  readSqliteIds,
  tempDir,
  writeDataset,
  writeEmulatorPipeline,
} from "./support/harness.js";

/** writes the spec's provider (with `emulator` options added) and a sqlite result sink (and errors table) */
const sqliteSinks = (spec: string, errorsTable = false) => {
  const text = fs.readFileSync(spec, "utf8");
  return (emulator: string) => {
    let next = text
      .replace(/^provider: .*$/m, `provider: { use: emulator, emulator: { timeScale: 3600${emulator} } }`)
      .replace(/^sinks: .*$/m, "sinks: [{ use: sqlite, path: ./out/results.db }]");
    if (errorsTable)
      next = next.replace(/^errors: .*$/m, "errors: [{ use: sqlite, path: ./out/errors.db, table: errors }]");
    fs.writeFileSync(spec, next);
  };
};

it("a rerun whose changed request fails at the provider drops the record's earlier success row", async () => {
  const dir = tempDir("bp-sqlite-rerun-");
  writeDataset(dir, 8);
  const spec = writeEmulatorPipeline(dir, { name: "sqlite-rerun", source: "./data.jsonl", errors: true });
  const withSinks = sqliteSinks(spec);
  withSinks("");
  const first = await batchpipe(["run", "pipeline.yaml"], { cwd: dir });
  expect(first.code, first.stderr).toBe(0);
  const ids = () => readSqliteIds(path.join(dir, "out/results.db")).sort();
  const all = ids();
  expect(all).toHaveLength(8);

  // r5's text changes, and its new request fails; the others are answered from the cache
  const data = path.join(dir, "data.jsonl");
  const lines = fs.readFileSync(data, "utf8").trimEnd().split("\n");
  const changed = JSON.parse(lines[4]!) as { id: string; text: string };
  lines[4] = JSON.stringify({ ...changed, text: `${changed.text} (edited)` });
  fs.writeFileSync(data, `${lines.join("\n")}\n`);
  withSinks(`, lineRules: [{ customIds: ["${changed.id}"], error: context_length_exceeded }]`);
  const second = await batchpipe(["run", "pipeline.yaml"], { cwd: dir });
  expect(second.code).toBe(3);
  expect(ids()).toEqual(all.filter((id) => id !== changed.id));
  const errors = fs.readFileSync(path.join(dir, "out/errors.jsonl"), "utf8");
  expect(errors).toContain(`"id":"${changed.id}"`);
});

it("a rerun in which a failed record succeeds drops its failure row from an errors table; a duplicate_id of a success stays", async () => {
  const dir = tempDir("bp-sqlite-rerun-errors-");
  writeDataset(dir, 8);
  const spec = writeEmulatorPipeline(dir, {
    name: "sqlite-rerun-errors",
    source: "./data.jsonl",
    errors: true,
  });
  const withSinks = sqliteSinks(spec, true);
  const errorIds = () => readSqliteIds(path.join(dir, "out/errors.db"), "errors").sort();
  const data = path.join(dir, "data.jsonl");
  const lines = fs.readFileSync(data, "utf8").trimEnd().split("\n");
  const [failing, other] = [lines[2], lines[6]].map((l) => (JSON.parse(l!) as { id: string }).id) as [
    string,
    string,
  ];
  withSinks(`, lineRules: [{ customIds: ["${failing}", "${other}"], error: server_error }]`);
  const first = await batchpipe(["run", "pipeline.yaml"], { cwd: dir });
  expect(first.code).toBe(3);
  expect(errorIds()).toEqual([failing, other].sort());

  // the provider answers both now (`other` is also read twice: its second line fails as duplicate_id)
  fs.appendFileSync(data, `${lines[6]}\n`);
  withSinks("");
  const second = await batchpipe(["run", "pipeline.yaml", "--json"], { cwd: dir });
  expect(second.code).toBe(3);
  const report = second.events.find((e) => e.type === "run_finished")?.report as Record<string, number>;
  expect(report).toMatchObject({ read: 9, succeeded: 8, failed: 1 });
  expect(readSqliteIds(path.join(dir, "out/results.db")).sort()).toHaveLength(8);
  // before, `failing` kept its failure of the first run beside its success
  expect(errorIds()).toEqual([other]);
  expect(
    querySqlite<{ error: string }>(path.join(dir, "out/errors.db"), "SELECT error FROM errors")[0]!.error,
  ).toContain("duplicate_id");
});
