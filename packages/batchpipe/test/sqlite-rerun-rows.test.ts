// What a rerun leaves in a sqlite result table, through the real CLI: a record whose changed request
// now fails at the provider loses the success row an earlier run left (it stayed, an answer to
// a request that no longer exists, beside the record's failure in the errors sink).
import fs from "node:fs";
import path from "node:path";
import { expect, it } from "vitest";
import { batchpipe, readSqliteIds, tempDir, writeDataset, writeEmulatorPipeline } from "./support/harness.js";

it("a rerun whose changed request fails at the provider drops the record's earlier success row", async () => {
  const dir = tempDir("bp-sqlite-rerun-");
  writeDataset(dir, 8);
  const spec = writeEmulatorPipeline(dir, { name: "sqlite-rerun", source: "./data.jsonl", errors: true });
  const withSinks = (emulator: string) =>
    fs.writeFileSync(
      spec,
      fs
        .readFileSync(spec, "utf8")
        .replace(/^provider: .*$/m, `provider: { use: emulator, emulator: { timeScale: 3600${emulator} } }`)
        .replace(/^sinks: .*$/m, "sinks: [{ use: sqlite, path: ./out/results.db }]"),
    );
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
