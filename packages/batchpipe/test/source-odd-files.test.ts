// Odd source files whose records would otherwise vanish or fail without a word on why, through the
// real CLI (in-process emulator): CSV with lone-\r line ends, a quote left open, a UTF-16 or
// non-breaking-space jsonl line. Each is a located error or a failure row saying what to do.
import { describe, expect, it } from "vitest";
import { batchpipe, readJsonl, report, writeFiles } from "./support/harness.js";

/** a spec over the in-process emulator: results and failures to jsonl files */
function oddSpec(source: string): string {
  return [
    "version: 1",
    "name: odd",
    "provider: { use: emulator, emulator: { timeScale: 3600 } }",
    `source: ${source}`,
    "transform:",
    '  id: "{{ id }}"',
    '  body: { model: gpt-4o-mini, messages: [{ role: user, content: "{{ text }}" }] }',
    "batch: { poll_interval: 50ms }",
    "sinks: [{ use: jsonl, path: ./out/results.jsonl }]",
    "errors: [{ use: jsonl, path: ./out/errors.jsonl }]",
    "",
  ].join("\n");
}

describe("odd source files (real CLI)", () => {
  it("a CSV with lone-\\r line ends beside a good one stops the run with SOURCE_FAILED at the file, and the fix", async () => {
    const dir = writeFiles({
      "pipeline.yaml": oddSpec("{ use: csv, path: ./data/ }"),
      "data/a.csv": "id,text\n1,fine\n",
      "data/b.csv": "id,text\r2,hello\r3,world\r",
    });
    const run = await batchpipe(["run", "pipeline.yaml"], { cwd: dir });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("SOURCE_FAILED");
    expect(run.stderr).toContain("data/b.csv:1:8");
    expect(run.stderr).toContain("lone \\r");
    expect(run.stderr).toContain("tr '\\r' '\\n'");
  });
});
