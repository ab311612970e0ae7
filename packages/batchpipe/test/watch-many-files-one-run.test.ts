// Many files queued together make one group, one engine run: its batches follow the provider's
// limits, not a count of files. Before, a group held at most 1,000 files (20,000 files: 20 runs one
// after another, up to 20 completion windows), and a group started `coalesce` × 10 after the first
// file was queued with only the files hashed by then, the others making the next run.
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import {
  batchpipe,
  type CliEvent,
  idCounts,
  readJsonl,
  startBatchpipe,
  tempDir,
  writeEmulatorPipeline,
} from "./support/harness.js";

/** `count` files of one record each in <dir>/inbox, and a pipeline over them */
function inbox(name: string, count: number): { dir: string; ids: string[] } {
  const dir = tempDir(`bp-${name}-`);
  fs.mkdirSync(path.join(dir, "inbox"));
  writeEmulatorPipeline(dir, { name });
  const ids: string[] = [];
  for (let f = 0; f < count; f++) {
    const id = `f${f}`;
    ids.push(id);
    const file = path.join(dir, "inbox", `part-${String(f).padStart(5, "0")}.jsonl`);
    fs.writeFileSync(file, `${JSON.stringify({ id, text: id })}\n`);
  }
  return { dir, ids };
}

const groups = (events: CliEvent[]) =>
  events.filter((e) => e.type === "group_started").map((e) => (e.files as string[]).length);

describe("batchpipe watch: many files queued together", () => {
  it("--once runs 1,200 files as one group, one run, whose hashing outlasts the coalesce wait", async () => {
    const { dir, ids } = inbox("watch-many-once", 1200);
    // coalesce 10 ms: a group would start 100 ms after the first file was queued
    const result = await batchpipe(
      ["watch", "pipeline.yaml", "--once", "--json", "--settle", "100ms", "--coalesce", "10ms"],
      { cwd: dir },
    );
    expect(result.code, result.stderr).toBe(0);
    // before: [1000, 200] (the cap), or more groups split by the coalesce wait
    expect(groups(result.events)).toEqual([1200]);
    expect(result.events.filter((e) => e.type === "group_run")).toHaveLength(1);
    expect(result.events.at(-1)).toMatchObject({ type: "summary", groups: 1, files: 1200, succeeded: 1200 });
    const counts = idCounts(readJsonl<{ id: string }>(path.join(dir, "out/results.jsonl")));
    expect([...counts.keys()].sort()).toEqual([...ids].sort());
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
  });

  it("a watcher given a burst of files runs the files that arrived together as one group", async () => {
    const { dir, ids } = inbox("watch-many-burst", 400);
    const w = startBatchpipe(["watch", "pipeline.yaml", "--json", "--settle", "2s", "--coalesce", "10ms"], {
      cwd: dir,
      onEvent: (event, child) => {
        if (event.type === "idle") child.kill("SIGTERM");
      },
    });
    await w.done;
    // the files chokidar found at the start all arrived at once (its scan takes far less than the
    // 2 s settle): before, the group that started 100 ms after the first was queued took those
    // hashed by then ([2, 111, 287] here), and the rest made more runs
    expect(groups(w.events)).toEqual([400]);
    const counts = idCounts(readJsonl<{ id: string }>(path.join(dir, "out/results.jsonl")));
    expect(counts.size).toBe(ids.length);
  });
});
