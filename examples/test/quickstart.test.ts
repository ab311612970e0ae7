import fs from "node:fs";
import path from "node:path";
import { expect, it } from "vitest";
import { batchpipe, ROOT, readSqliteIds, tempDir } from "../../packages/batchpipe/test/support/harness.js";

it("the quickstart runs offline with the built-in emulator: 200 reviews, each once in both sinks", async () => {
  const dir = tempDir("bp-quickstart-");
  for (const file of ["pipeline.yaml", "data.jsonl"]) {
    fs.copyFileSync(path.join(ROOT, "examples/quickstart", file), path.join(dir, file));
  }
  const env = { OPENAI_API_KEY: "" };
  const run = await batchpipe(["run", "pipeline.yaml"], { cwd: dir, env });
  expect(run.code, run.stderr).toBe(0);
  expect(run.stdout).toMatch(/completed: every request succeeded/);
  expect(run.stdout).toMatch(/succeeded +200/);
  expect(run.stdout).toMatch(/unaccounted +0/);
  // a first run has nothing cached, and says no more than that
  expect(run.stdout).toMatch(/cached +0\n/);

  const rows = fs
    .readFileSync(path.join(dir, "out/results.jsonl"), "utf8")
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line) as { id: string; output: { sentiment: string } });
  expect(new Set(rows.map((r) => r.id)).size).toBe(200);
  expect(rows.length).toBe(200);
  expect(["positive", "negative", "neutral"]).toContain(rows[0]!.output.sentiment);
  const ids = readSqliteIds(path.join(dir, "out/results.db"), "sentiment");
  expect({ n: ids.length, d: new Set(ids).size }).toEqual({ n: 200, d: 200 });

  // the same dataset again: nothing is paid twice, every row is delivered again from the result cache
  const again = await batchpipe(["run", "pipeline.yaml"], { cwd: dir, env });
  expect(again.code).toBe(0);
  expect(again.stdout).toMatch(
    /cached +200 \(answered from the result cache: \d+ requests not sent, saved \$/,
  );
});
