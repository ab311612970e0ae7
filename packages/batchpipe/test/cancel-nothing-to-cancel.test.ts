// `batchpipe cancel` with no unfinished run answered 'pipeline "x" has no unfinished run' with the
// hint "Start one with `batchpipe run <spec>`": starting a run is not what someone cancelling wants.
// It now says there is nothing to cancel, and what the latest run was (or that there is none).
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { batchpipe, records, tempDir } from "./support/harness.js";

function emulatorPipeline(): string {
  const dir = tempDir("bp-cancel-nothing-");
  fs.writeFileSync(path.join(dir, "data.jsonl"), records(2));
  fs.writeFileSync(
    path.join(dir, "pipeline.yaml"),
    [
      "version: 1",
      "name: nothing",
      "provider: { use: emulator, emulator: { timeScale: 3600 } }",
      "source: { use: jsonl, path: ./data.jsonl }",
      "transform:",
      '  id: "{{ id }}"',
      '  body: { model: gpt-4o-mini, messages: [{ role: user, content: "{{ text }}" }] }',
      "batch: { poll_interval: 50ms }",
      "sinks: [{ use: jsonl, path: ./out/results.jsonl }]",
      "",
    ].join("\n"),
  );
  return dir;
}

describe("batchpipe cancel with nothing to cancel", () => {
  it("before any run, and after the run ended", async () => {
    const dir = emulatorPipeline();
    const before = await batchpipe(["cancel", "pipeline.yaml"], { cwd: dir });
    expect(before.code).toBe(2);
    expect(before.stderr).toBe(
      '✖ pipeline "nothing" has no unfinished run: nothing to cancel (USAGE)\n  hint: It has not run yet.\n',
    );
    const run = await batchpipe(["run", "pipeline.yaml"], { cwd: dir });
    expect(run.code, run.stderr).toBe(0);
    const after = await batchpipe(["cancel", "pipeline.yaml"], { cwd: dir });
    expect(after.code).toBe(2);
    expect(after.stderr.replace(/r1-\w+/, "<run>")).toBe(
      '✖ pipeline "nothing" has no unfinished run: nothing to cancel (USAGE)\n  hint: Its latest run, <run> (done), has ended; `batchpipe status pipeline.yaml` shows it.\n',
    );
  }, 60_000);
});
