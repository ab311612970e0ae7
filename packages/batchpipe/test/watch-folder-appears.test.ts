// The watched folder replaced while watched (renamed away and made again), or a glob's folder
// missing at the start: the watcher takes the files of the folder that is there, without a restart.
// (A source path naming a missing folder is refused at the start: SPEC_INVALID, exit 2.)
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import {
  readJsonl,
  signalOnce,
  startWatcher,
  tempDir,
  waitFor,
  writeEmulatorPipeline,
} from "./support/harness.js";

const write = (file: string, ids: string[]) => {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, ids.map((id) => `${JSON.stringify({ id, text: id })}\n`).join(""));
};

describe("batchpipe watch: the watched folder appears or is replaced", () => {
  it("a folder replaced while watched (renamed away, made again) is watched anew", async () => {
    const dir = tempDir("bp-watch-folder-");
    writeEmulatorPipeline(dir, { name: "watch-folder" });
    write(path.join(dir, "inbox/a.jsonl"), ["a1", "a2"]);
    const w = startWatcher(dir, undefined, ["--settle", "200ms"]);
    const results = path.join(dir, "out/results.jsonl");
    const ids = () => readJsonl<{ id: string }>(results).map((r) => r.id);
    try {
      await waitFor(() => ids().length >= 2, 30_000, "the rows of a.jsonl");
      fs.renameSync(path.join(dir, "inbox"), path.join(dir, "inbox.old"));
      // the watcher looks at its folder every 500 ms: it sees this one gone before the new one
      await new Promise((r) => setTimeout(r, 1200));
      write(path.join(dir, "inbox/b.jsonl"), ["b1"]);
      await waitFor(() => ids().length >= 3, 30_000, "the rows of b.jsonl in the new inbox");
      await waitFor(() => w.events.at(-1)?.type === "idle", 15_000, "the watcher to be idle");
    } finally {
      signalOnce(w.child, "SIGTERM");
    }
    expect((await w.done).code).toBe(143);
    expect(ids().sort()).toEqual(["a1", "a2", "b1"]);
    expect(w.events.filter((e) => e.type === "folder_missing")).toHaveLength(1);
    expect(w.stderr()).toBe("");
  });

  it("a glob whose folder does not exist yet", async () => {
    const dir = tempDir("bp-watch-glob-later-");
    writeEmulatorPipeline(dir, { name: "watch-glob-later", source: "./later/*.jsonl" });
    const w = startWatcher(dir, undefined, ["--settle", "200ms"]);
    const results = path.join(dir, "out/results.jsonl");
    try {
      await waitFor(() => w.events.some((e) => e.type === "watching"), 20_000, "the watcher to start");
      write(path.join(dir, "later/c.jsonl"), ["c1"]);
      await waitFor(() => readJsonl(results).length >= 1, 30_000, "the row of c.jsonl");
    } finally {
      signalOnce(w.child, "SIGTERM");
    }
    expect((await w.done).code).toBe(143);
    expect(readJsonl<{ id: string }>(results).map((r) => r.id)).toEqual(["c1"]);
    expect(w.events.find((e) => e.type === "folder_missing")).toEqual({
      type: "folder_missing",
      root: path.join(dir, "later"),
    });
  });
});
