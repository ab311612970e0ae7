// A file still being written must not hold back the files queued before it. A watcher's group waits
// for the files that had arrived when its timer fired (so a burst is one group), and it waited for
// them without a bound: a file that kept growing held the group of the files before it as long as
// it grew. It waits `coalesce` × 10 at most now.
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { startBatchpipe, tempDir, writeEmulatorPipeline } from "./support/harness.js";

describe("batchpipe watch: a file that keeps growing", () => {
  it("the files queued before it run without waiting for it to stop", async () => {
    const dir = tempDir("bp-watch-growing-");
    fs.mkdirSync(path.join(dir, "inbox"));
    writeEmulatorPipeline(dir, { name: "watch-growing" });
    fs.writeFileSync(path.join(dir, "inbox/a.jsonl"), `${JSON.stringify({ id: "a1", text: "a" })}\n`);
    // b.jsonl grows every 100 ms for 12 s: it never settles (settle 500 ms) until then
    const growing = path.join(dir, "inbox/b.jsonl");
    let line = 0;
    const grow = () => fs.appendFileSync(growing, `${JSON.stringify({ id: `b${line++}`, text: "b" })}\n`);
    grow();
    const writer = setInterval(grow, 100);
    const stopAt = Date.now() + 12_000;
    const stopper = setTimeout(() => clearInterval(writer), 12_000);
    let aDoneAt: number | undefined;
    try {
      const w = startBatchpipe(
        ["watch", "pipeline.yaml", "--json", "--settle", "500ms", "--coalesce", "100ms"],
        {
          cwd: dir,
          onEvent: (event, child) => {
            if (event.type === "file_done" && String(event.file).endsWith("a.jsonl")) {
              aDoneAt = Date.now();
              child.kill("SIGTERM");
            }
          },
        },
      );
      await w.done;
      // before: a.jsonl's group waited for b.jsonl to settle, 12 s and more
      expect(aDoneAt, w.stderr).toBeDefined();
      expect(aDoneAt!).toBeLessThan(stopAt);
      expect(w.events.find((e) => e.type === "group_started")).toMatchObject({
        files: [expect.stringMatching(/a\.jsonl$/)],
      });
    } finally {
      clearInterval(writer);
      clearTimeout(stopper);
    }
  }, 60_000);
});
