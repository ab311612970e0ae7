// sink-jsonl's append: true through the CLI: earlier runs' lines stay, and a run that stops before
// its first delivery is recorded resumes without writing its lines twice (the engine records a fresh
// sink's starting checkpoint when it opens it).
import fs from "node:fs";
import path from "node:path";
import type { Emulator } from "@batchpipe/openai-emulator";
import { afterAll, beforeAll, expect, test } from "vitest";
import {
  batchpipe,
  FIXTURES,
  readJsonl,
  records,
  startEmulator,
  tempDir,
  writePipeline,
} from "./support/harness.js";

let emu: Emulator;
beforeAll(async () => {
  emu = await startEmulator();
});
afterAll(async () => {
  await emu?.close();
});

test("append: true keeps earlier lines; a commit failing after the jsonl sink's, then a resume, adds each row once", async () => {
  const dir = tempDir();
  // 3 lines no source can parse: invalid_input failures, delivered first (before any batch)
  fs.writeFileSync(path.join(dir, "data.jsonl"), `${records(5)}not json 1\nnot json 2\nnot json 3\n`);
  fs.mkdirSync(path.join(dir, "out"));
  fs.writeFileSync(path.join(dir, "out/errors.jsonl"), `${JSON.stringify({ id: "from-last-week" })}\n`);
  fs.writeFileSync(path.join(dir, "broken"), "");
  writePipeline(dir, {
    baseUrl: emu.url,
    name: "append",
    sinks: ["- { use: jsonl, path: ./out/results.jsonl, append: true }"],
    errors: [
      "- { use: jsonl, path: ./out/errors.jsonl, append: true }",
      `- { use: ${path.join(FIXTURES, "plugins/fail-commit-sink.ts")}, fail_marker: ./broken }`,
    ],
  });
  const stopped = await batchpipe(["run", "pipeline.yaml"], { cwd: dir });
  expect(stopped.code, stopped.stderr).toBe(1);
  expect(stopped.stderr).toContain("the commit failed");
  // the jsonl sink had committed its rows before the other sink failed
  expect(readJsonl(path.join(dir, "out/errors.jsonl"))).toHaveLength(4);

  fs.rmSync(path.join(dir, "broken"));
  const resumed = await batchpipe(["run", "pipeline.yaml"], { cwd: dir });
  expect(resumed.code, resumed.stderr).toBe(3); // finished, some records failed
  const errors = readJsonl<{ id: string; input?: unknown; source?: unknown }>(
    path.join(dir, "out/errors.jsonl"),
  );
  expect(errors.map((row) => row.id)).toHaveLength(4);
  expect(errors[0]).toEqual({ id: "from-last-week" });
  expect(new Set(errors.map((row) => row.id)).size).toBe(4);
  // the default keeps a failure whole
  expect(errors[1]).toHaveProperty("source");
  const results = readJsonl<Record<string, unknown>>(path.join(dir, "out/results.jsonl"));
  expect(results).toHaveLength(5);
  // the default row: no response, input nor source
  expect(Object.keys(results[0]!).sort()).toEqual(
    ["attempts", "batch_id", "id", "model", "output", "status", "usage"].sort(),
  );

  // a second run (--force: the same dataset again) appends its rows after the first run's
  const again = await batchpipe(["run", "pipeline.yaml", "--force"], { cwd: dir });
  expect(again.code, again.stderr).toBe(3);
  expect(readJsonl(path.join(dir, "out/results.jsonl"))).toHaveLength(10);
});
