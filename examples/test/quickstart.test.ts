import { spawnSync } from "node:child_process";
import fs from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { expect, it } from "vitest";

const ROOT = path.resolve(import.meta.dirname, "../..");
const CLI = path.join(ROOT, "packages/core/bin/batchpipe.js");
// better-sqlite3 is a dependency of core, not of the examples package
const Database = createRequire(path.join(ROOT, "packages/core/package.json"))(
  "better-sqlite3",
) as typeof import("better-sqlite3");

it("the quickstart runs offline with the built-in emulator: 200 reviews, each once in both sinks", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bp-quickstart-"));
  for (const file of ["pipeline.yaml", "data.jsonl"]) {
    fs.copyFileSync(path.join(ROOT, "examples/quickstart", file), path.join(dir, file));
  }
  const env = { ...process.env, NO_COLOR: "1", OPENAI_API_KEY: "" };
  const run = spawnSync(process.execPath, [CLI, "run", "pipeline.yaml"], { cwd: dir, env, encoding: "utf8" });
  expect(run.status, run.stderr).toBe(0);
  expect(run.stdout).toMatch(/completed: every request succeeded/);
  expect(run.stdout).toMatch(/succeeded +200/);
  expect(run.stdout).toMatch(/unaccounted +0/);

  const rows = fs
    .readFileSync(path.join(dir, "out/results.jsonl"), "utf8")
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line) as { id: string; output: { sentiment: string } });
  expect(new Set(rows.map((r) => r.id)).size).toBe(200);
  expect(rows.length).toBe(200);
  expect(["positive", "negative", "neutral"]).toContain(rows[0]!.output.sentiment);
  const db = new Database(path.join(dir, "out/results.db"), { readonly: true });
  expect(db.prepare("SELECT COUNT(*) AS n, COUNT(DISTINCT id) AS d FROM sentiment").get()).toEqual({
    n: 200,
    d: 200,
  });
  db.close();

  // the same dataset again: nothing is paid twice
  const again = spawnSync(process.execPath, [CLI, "run", "pipeline.yaml"], {
    cwd: dir,
    env,
    encoding: "utf8",
  });
  expect(again.status).toBe(0);
  expect(again.stdout).toMatch(/nothing to do: 200 records already processed/);
});
