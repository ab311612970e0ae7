// `batchpipe status` on a run still reading its source printed "records 0/? (source still being
// read)": a "?" where the total goes. It now says it in words: "records 0 done so far, of a total
// not known yet (the source is still being read)"; once read, the line is "records 5/5 done".
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { batchpipe, records, startBatchpipe, tempDir, waitFor } from "./support/harness.js";

describe("batchpipe status while the source is read", () => {
  it("says the total is not known yet, in words", async () => {
    const dir = tempDir("bp-status-reading-");
    const fifo = path.join(dir, "in.fifo");
    execFileSync("mkfifo", [fifo]);
    fs.writeFileSync(
      path.join(dir, "pipeline.yaml"),
      [
        "version: 1",
        "name: reading",
        "provider: { use: emulator, emulator: { timeScale: 3600 } }",
        "source: { use: jsonl, path: ./in.fifo }",
        "transform:",
        '  id: "{{ id }}"',
        '  body: { model: gpt-4o-mini, messages: [{ role: user, content: "{{ text }}" }] }',
        "batch: { poll_interval: 50ms }",
        "sinks: [{ use: jsonl, path: ./out/results.jsonl }]",
        "",
      ].join("\n"),
    );
    const run = startBatchpipe(["run", "pipeline.yaml"], { cwd: dir, timeoutMs: 60_000 });
    // the writer's end stays open: the run goes on reading
    const writer = await fs.promises.open(fifo, "w");
    try {
      await writer.write(records(5));
      let status = "";
      await waitFor(
        async () => {
          status = (await batchpipe(["status", "pipeline.yaml"], { cwd: dir })).stdout;
          return / reading /.test(status);
        },
        30_000,
        "the run reading",
      );
      const line = status.split("\n").find((l) => l.startsWith("  records "));
      expect(line).toBe(
        "  records 0 done so far, of a total not known yet (the source is still being read) · ok 0 · failed 0 · retried 0",
      );
    } finally {
      await writer.close();
    }
    const done = await run.done;
    expect(done.code, done.stderr).toBe(0);
    const after = await batchpipe(["status", "pipeline.yaml"], { cwd: dir });
    expect(after.stdout).toContain("  records 5/5 done · ok 5 · failed 0 · retried 0\n");
  }, 60_000);
});
