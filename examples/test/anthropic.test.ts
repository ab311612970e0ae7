import fs from "node:fs";
import path from "node:path";
import { expect, it } from "vitest";
import { batchpipe, ROOT, readSqliteIds, tempDir } from "../../packages/batchpipe/test/support/harness.js";

it("the anthropic example runs offline (emulator, api: anthropic): 120 tickets with their own ids, each once in both sinks", async () => {
  const dir = tempDir("bp-anthropic-example-");
  for (const file of ["pipeline.yaml", "data.jsonl"]) {
    fs.copyFileSync(path.join(ROOT, "examples/anthropic", file), path.join(dir, file));
  }
  const run = await batchpipe(["run", "pipeline.yaml"], { cwd: dir, env: { ANTHROPIC_API_KEY: "" } });
  expect(run.code, run.stderr).toBe(0);
  expect(run.stdout).toMatch(/completed: every request succeeded/);
  expect(run.stdout).toMatch(/succeeded +120/);

  const ids = fs
    .readFileSync(path.join(dir, "data.jsonl"), "utf8")
    .trim()
    .split("\n")
    .map((line) => (JSON.parse(line) as { id: string }).id);
  const rows = fs
    .readFileSync(path.join(dir, "out/results.jsonl"), "utf8")
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line) as { id: string; output: { category: string; urgency: string } });
  expect(rows.map((r) => r.id).sort()).toEqual([...ids].sort());
  expect(rows[0]!.id).toMatch(/^helpdesk\/2026-12:ticket #\d{3}$/);
  expect(["billing", "shipping", "account", "bug", "feature", "other"]).toContain(rows[0]!.output.category);
  expect(readSqliteIds(path.join(dir, "out/results.db"), "tickets").sort()).toEqual([...ids].sort());
});
