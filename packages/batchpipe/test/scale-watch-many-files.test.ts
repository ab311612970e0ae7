// A folder of many small files (20,000 in a tester's run: groups of 1,000) under `batchpipe watch`:
// the human line that starts a group names a few files and counts the rest, instead of listing
// every one of them on one line (~30,000 characters a group); `--json` events still list them all.
// Its counts are written with thousands separators, as run's are ("20000 file(s) in 20 run(s):
// 60000 succeeded" before).
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { batchpipe, tempDir } from "./support/harness.js";

describe("batchpipe watch over a folder of many files", () => {
  it("a group's line names 5 files and counts the others", async () => {
    const dir = tempDir("bp-scale-watch-");
    fs.mkdirSync(path.join(dir, "data"));
    for (let f = 0; f < 40; f++) {
      const name = `part-${String(f).padStart(3, "0")}.jsonl`;
      // the first file holds 1,200 records: counts past 999 are written as elsewhere (1,239)
      const n = f === 0 ? 1200 : 1;
      let lines = "";
      for (let i = 0; i < n; i++)
        lines += `${JSON.stringify({ id: `f${f}-${i}`, text: `file ${f} ${i}` })}\n`;
      fs.writeFileSync(path.join(dir, "data", name), lines);
    }
    fs.writeFileSync(
      path.join(dir, "pipeline.yaml"),
      [
        "version: 1",
        "name: scale-watch",
        "provider: { use: emulator, emulator: { timeScale: 3600 } }",
        "source: { use: jsonl, path: ./data/ }",
        "transform:",
        '  id: "{{ id }}"',
        '  body: { model: gpt-4o-mini, messages: [{ role: user, content: "{{ text }}" }] }',
        "batch: { poll_interval: 50ms }",
        "sinks: [{ use: jsonl, path: ./out/results.jsonl }]",
        "",
      ].join("\n"),
    );
    const human = await batchpipe(["watch", "pipeline.yaml", "--once", "--settle", "100ms"], { cwd: dir });
    expect(human.code).toBe(0);
    const started = human.stderr.split("\n").filter((line) => line.startsWith("▶ running"));
    expect(human.stderr).toContain("  data/part-000.jsonl: 1,200 record(s) read");
    expect(human.stderr).toContain("✓ data/part-000.jsonl: 1,200 succeeded, 0 failed");
    expect(human.stderr).toMatch(/■ run r1-\S+ completed: 1,239 succeeded, 0 failed, \d batch\(es\)/);
    expect(human.stdout + human.stderr).toContain("40 file(s) in 1 run(s): 1,239 succeeded, 0 failed");
    expect(started).toMatchInlineSnapshot(`
      [
        "▶ running 40 file(s): data/part-000.jsonl, data/part-001.jsonl, data/part-002.jsonl, data/part-003.jsonl, data/part-004.jsonl and 35 more",
      ]
    `);

    for (const id of ["g", "h"]) {
      fs.writeFileSync(path.join(dir, "data", `more-${id}.jsonl`), `${JSON.stringify({ id, text: id })}\n`);
    }
    const json = await batchpipe(["watch", "pipeline.yaml", "--once", "--settle", "100ms", "--json"], {
      cwd: dir,
    });
    expect(json.code).toBe(0);
    const group = json.events.find((e) => e.type === "group_started") as { files: string[] };
    expect(group.files.map((f) => path.basename(f))).toEqual(["more-g.jsonl", "more-h.jsonl"]);
  });
});
