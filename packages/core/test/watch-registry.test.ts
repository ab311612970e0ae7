// What `run` and `status` read of a watcher's registry (read-only), including while a watcher is
// still creating it: `run --detach` beside a starting `watch --detach` once failed with "no such
// table: files" (an unexpected error) instead of naming the running daemon.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { openRegistry, readWatchCounts } from "../src/watch/registry.js";

describe("readWatchCounts", () => {
  it("no registry, a registry whose tables a starting watcher has not created yet, an empty one", () => {
    const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), "bp-watch-registry-"));
    expect(readWatchCounts(stateDir)).toBeNull();
    // what openRegistry leaves for a moment: the file, in WAL mode, without tables
    fs.mkdirSync(path.join(stateDir, "watch"));
    const starting = new Database(path.join(stateDir, "watch", "watch.db"));
    starting.pragma("journal_mode = WAL");
    starting.close();
    expect(readWatchCounts(stateDir)).toBeNull();
    openRegistry(path.join(stateDir, "watch")).close();
    expect(readWatchCounts(stateDir)).toEqual({ done: 0, pending: 0, failed: 0 });
  });
});
