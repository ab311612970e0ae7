// Files that arrive while `batchpipe watch` starts: each is processed exactly once, whether
// chokidar's first scan, its events or the listing after its `ready` found it (a file found twice
// runs once). A regression guard, not a test of the start gap: a file created in chokidar's gap is
// brought up by the next file's event, so this passes without the fix too (the gap itself is
// tested in packages/core/test/watch-pipeline.test.ts).
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import {
  checkExactlyOnce,
  readJsonl,
  signalOnce,
  startWatcher,
  tempDir,
  waitFor,
  writeEmulatorPipeline,
} from "./support/harness.js";

describe("batchpipe watch: files arriving while it starts", () => {
  it("a file every few ms from before the start until after `watching`: each delivered exactly once", async () => {
    const dir = tempDir("bp-watch-start-");
    fs.mkdirSync(path.join(dir, "inbox"));
    writeEmulatorPipeline(dir, { name: "watch-start" });
    let n = 0;
    const produce = () => {
      n++;
      fs.writeFileSync(
        path.join(dir, "inbox", `p${n}.jsonl`),
        `${JSON.stringify({ id: `p${n}`, text: "x" })}\n`,
      );
    };
    const producer = setInterval(produce, 5);
    const w = startWatcher(dir, undefined, ["--settle", "200ms"]);
    try {
      await waitFor(() => w.events.some((e) => e.type === "watching"), 20_000, "the watcher to start");
      await new Promise((r) => setTimeout(r, 300));
    } finally {
      clearInterval(producer);
    }
    const expected = Array.from({ length: n }, (_, i) => `p${i + 1}`);
    const results = path.join(dir, "out/results.jsonl");
    await waitFor(() => readJsonl(results).length >= n, 60_000, `${n} results`).catch((error) => {
      signalOnce(w.child, "SIGKILL");
      const queued = w.events.filter((e) => e.type === "file_queued").length;
      throw new Error(`${error.message}: ${readJsonl(results).length} delivered, ${queued} files queued`);
    });
    await waitFor(() => w.events.at(-1)?.type === "idle", 15_000, "the watcher to be idle");
    signalOnce(w.child, "SIGTERM");
    await w.done;
    expect(w.stderr()).toBe("");
    const ids = readJsonl<{ id: string }>(results).map((r) => r.id);
    expect(checkExactlyOnce(ids, expected)).toEqual({ missing: [], duplicated: [], extra: [] });
    console.log(
      `watch start test: ${n} files, ${w.events.filter((e) => e.type === "file_skipped").length} found twice`,
    );
  });
});
