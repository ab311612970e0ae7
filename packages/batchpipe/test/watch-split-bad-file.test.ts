// A group of many files with one the source cannot read: that file runs alone and fails, the files
// before it and those after it make one run each. Before, the group was split into one run per
// file, one after another: with a group of every file queued (thousands), thousands of runs, each
// its own completion window.
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { batchpipe, idCounts, readJsonl, tempDir, writeEmulatorPipeline } from "./support/harness.js";

describe("batchpipe watch: a bad file in a large group", () => {
  it("runs alone and fails; the other 60 files make two runs, each id delivered once", async () => {
    const dir = tempDir("bp-watch-split-");
    fs.mkdirSync(path.join(dir, "inbox"));
    writeEmulatorPipeline(dir, { name: "watch-split", source: "./inbox/, on_invalid: fail" });
    const ids: string[] = [];
    for (let f = 0; f < 61; f++) {
      const name = path.join(dir, "inbox", `part-${String(f).padStart(3, "0")}.jsonl`);
      if (f === 30) {
        fs.writeFileSync(name, '{"id":"bad1","text":"x"}\nnot json\n');
        continue;
      }
      ids.push(`f${f}`);
      fs.writeFileSync(name, `${JSON.stringify({ id: `f${f}`, text: `f${f}` })}\n`);
    }
    const result = await batchpipe(["watch", "pipeline.yaml", "--once", "--json", "--settle", "100ms"], {
      cwd: dir,
    });
    expect(result.code, result.stderr).toBe(1);
    const sizes = (type: string) =>
      result.events.filter((e) => e.type === type).map((e) => (e.files as string[]).length);
    // before: the group of 61, then 61 groups of one file (62 runs)
    expect(sizes("group_started")).toEqual([61, 30, 1, 30]);
    expect(result.events.filter((e) => e.type === "group_run")).toHaveLength(4);
    const failed = result.events.filter((e) => e.type === "group_failed") as unknown as {
      files: string[];
      error: { code: string };
    }[];
    expect(failed.map((e) => [e.files.map((f) => path.basename(f)), e.error.code])).toEqual([
      [["part-030.jsonl"], "SOURCE_FAILED"],
    ]);
    expect(result.events.at(-1)).toMatchObject({
      type: "summary",
      groups: 2,
      files: 60,
      filesFailed: 1,
      succeeded: 60,
    });
    const counts = idCounts(readJsonl<{ id: string }>(path.join(dir, "out/results.jsonl")));
    expect([...counts.keys()].sort()).toEqual([...ids].sort());
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
  });
});
