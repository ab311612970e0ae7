// `batchpipe cancel` on a watched pipeline said "A running `batchpipe watch` delivers the finished
// results and stops", but a watcher ends the cancelled group's run and goes on watching (seen: the
// daemon logged "run … cancelled", then "waiting for files…" and took the next file). It now says
// "… delivers the finished results and goes on watching"; a plain run's wording is unchanged.
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  batchpipe,
  type EmulatorProcess,
  records,
  startEmulatorProcess,
  startWatcher,
  tempDir,
  waitFor,
  writePipeline,
} from "./support/harness.js";

let emu: EmulatorProcess;
beforeAll(async () => {
  emu = await startEmulatorProcess({ timeScale: 1, latencies: { linesPerSecond: 20 } });
});
afterAll(() => emu.close());

describe("batchpipe cancel: what the running process does next", () => {
  it("a watched pipeline: the watcher goes on watching", async () => {
    const dir = tempDir("bp-cancel-watch-");
    fs.mkdirSync(path.join(dir, "inbox"));
    fs.writeFileSync(path.join(dir, "inbox", "a.jsonl"), records(100));
    writePipeline(dir, {
      name: "cancel-watch",
      baseUrl: emu.url,
      source: "  { use: jsonl, path: ./inbox/ }",
    });
    const w = startWatcher(dir, undefined, ["--settle", "200ms"]);
    await waitFor(() => w.events.some((e) => e.type === "engine"), 60_000, "the group's run");
    await waitFor(
      () =>
        w.events.some((e) => e.type === "engine" && (e.event as { type: string }).type === "shard_submitted"),
      60_000,
      "a batch",
    );
    const cancel = await batchpipe(["cancel", "pipeline.yaml"], { cwd: dir });
    expect(cancel.code).toBe(0);
    expect(cancel.stdout.split("\n")[1]).toBe(
      "  A running `batchpipe watch` delivers the finished results and goes on watching; if none is running, `batchpipe watch pipeline.yaml` does it.",
    );
    // what it says happens: the group ends cancelled, and the watcher takes the next file
    await waitFor(() => w.events.some((e) => e.type === "group_finished"), 60_000, "the cancelled group");
    fs.writeFileSync(path.join(dir, "inbox", "b.jsonl"), '{"id":"b1","text":"b"}\n');
    await waitFor(() => w.events.filter((e) => e.type === "group_finished").length === 2, 60_000, "b.jsonl");
    expect(w.events.filter((e) => e.type === "group_finished").map((e) => e.status)).toEqual([
      "cancelled",
      "completed",
    ]);
    w.child.kill("SIGTERM");
    await w.done;
  });
});
