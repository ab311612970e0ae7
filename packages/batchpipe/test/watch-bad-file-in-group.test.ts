// A group of many files with one the source fails in: that file ends at its bad line and is
// reported failed, the group's run goes on with the others. Before streaming submission the group
// was split (the bad file alone, the files before and after it a run each; before that, one run per
// file); a bad line read after the first batches were sent cannot be split off
// (watch-bad-line-streamed.test.ts).
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { batchpipe, idCounts, readJsonl, tempDir, writeEmulatorPipeline } from "./support/harness.js";

describe("batchpipe watch: a bad file in a large group", () => {
  it("ends at its bad line and fails; the other 60 files go on in the same run, each id delivered once", async () => {
    const dir = tempDir("bp-watch-bad-file-");
    fs.mkdirSync(path.join(dir, "inbox"));
    writeEmulatorPipeline(dir, { name: "watch-bad-file", source: "./inbox/, on_invalid: fail" });
    const ids: string[] = [];
    for (let f = 0; f < 61; f++) {
      const name = path.join(dir, "inbox", `part-${String(f).padStart(3, "0")}.jsonl`);
      if (f === 30) {
        // the record before the bad line is kept, the one after it is not read
        ids.push("bad1");
        fs.writeFileSync(name, '{"id":"bad1","text":"x"}\nnot json\n{"id":"bad2","text":"y"}\n');
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
    expect(sizes("group_started")).toEqual([61]);
    expect(result.events.filter((e) => e.type === "group_run")).toHaveLength(1);
    expect(result.events.filter((e) => e.type === "group_failed")).toEqual([]);
    const failed = result.events.filter((e) => e.type === "file_failed") as unknown as {
      file: string;
      records: number;
      error: { code: string; message: string };
    }[];
    expect(failed.map((e) => [path.basename(e.file), e.records, e.error.code])).toEqual([
      ["part-030.jsonl", 1, "SOURCE_FAILED"],
    ]);
    expect(failed[0]!.error.message).toContain("part-030.jsonl:2: invalid JSON");
    expect(result.events.at(-1)).toMatchObject({
      type: "summary",
      groups: 1,
      files: 60,
      filesFailed: 1,
      succeeded: 61,
    });
    const counts = idCounts(readJsonl<{ id: string }>(path.join(dir, "out/results.jsonl")));
    expect([...counts.keys()].sort()).toEqual([...ids].sort());
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
  });
});
