// SIGTERM (or Ctrl-C) while `watch --once` waits for the folder's files to settle, before any group
// ran: it printed "0 file(s) in 0 run(s): 0 succeeded, 0 failed" and exited 0, so a script (a
// timeout, systemd) took the folder as processed while a.jsonl was never taken. It now ends as an
// interrupted watch does: exit 143, the `interrupted` event; the next --once takes the file.
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import {
  records,
  signalOnce,
  startWatcher,
  tempDir,
  waitFor,
  writeEmulatorPipeline,
} from "./support/harness.js";

describe("batchpipe watch --once interrupted before its first group", () => {
  it("exits 143 (interrupted), not 0 with nothing done", async () => {
    const dir = tempDir("bp-watch-once-sig-");
    fs.mkdirSync(path.join(dir, "inbox"));
    fs.writeFileSync(path.join(dir, "inbox", "a.jsonl"), records(3));
    writeEmulatorPipeline(dir, { name: "watch-once-sig" });
    // a long settle: the signal comes while it waits
    const w = startWatcher(dir, undefined, ["--once", "--settle", "20s"]);
    await waitFor(() => w.events.some((e) => e.type === "watching"), 30_000, "the watcher");
    signalOnce(w.child, "SIGTERM");
    const done = await w.done;
    expect(done.code).toBe(143);
    expect(w.events.map((e) => e.type)).not.toContain("summary");
    expect(w.events.at(-1)).toMatchObject({ type: "interrupted", signal: "SIGTERM" });

    const again = startWatcher(dir, undefined, ["--once", "--settle", "200ms"]);
    expect((await again.done).code).toBe(0);
    expect(again.events.at(-1)).toMatchObject({ type: "summary", files: 1, succeeded: 3 });
  });
});
