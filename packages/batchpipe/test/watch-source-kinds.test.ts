// `batchpipe watch` on a folder takes the files the pipeline's source reads from a folder: `*.csv`
// and `*.csv.gz` for the csv source, `*.parquet` for the parquet source (not `*.jsonl`, whatever
// the source), as `batchpipe run` reads them.
import fs from "node:fs";
import path from "node:path";
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { ROOT, readJsonl, startWatcher, tempDir } from "./support/harness.js";

/** a temp folder with ./inbox/ and a pipeline over it with `source` (in-process emulator, jsonl sink) */
function fixture(name: string, source: string): string {
  const dir = tempDir(`bp-${name}-`);
  fs.mkdirSync(path.join(dir, "inbox"));
  fs.writeFileSync(
    path.join(dir, "pipeline.yaml"),
    [
      "version: 1",
      `name: ${name}`,
      "provider: { use: emulator, emulator: { timeScale: 3600 } }",
      `source: ${source}`,
      "transform:",
      '  id: "{{ id }}"',
      '  body: { model: gpt-4o-mini, messages: [{ role: user, content: "{{ id }}" }] }',
      "batch: { poll_interval: 50ms }",
      "sinks: [{ use: jsonl, path: ./out/results.jsonl, fields: [id, status, source] }]",
      "",
    ].join("\n"),
  );
  return dir;
}

const delivered = (dir: string) =>
  readJsonl<{ id: string; source: { file: string } }>(path.join(dir, "out/results.jsonl"))
    .map((r) => `${r.id}@${path.basename(r.source.file)}`)
    .sort();

describe("batchpipe watch on a folder, by source kind", () => {
  it("the csv source: every *.csv and *.csv.gz in the folder (any case), not a *.jsonl beside them", async () => {
    const dir = fixture("watch-csv-folder", "{ use: csv, path: ./inbox/ }");
    fs.writeFileSync(path.join(dir, "inbox/a.csv"), "id,text\na1,x\na2,y\n");
    fs.writeFileSync(path.join(dir, "inbox/B.CSV"), "id,text\nb1,x\n");
    fs.writeFileSync(path.join(dir, "inbox/c.csv.gz"), gzipSync("id,text\nc1,x\n"));
    fs.writeFileSync(path.join(dir, "inbox/notes.jsonl"), '{"id":"n1"}\n');

    const w = startWatcher(dir, undefined, ["--once", "--settle", "200ms"]);
    expect((await w.done).code).toBe(0);
    expect(w.events.find((e) => e.type === "watching")).toMatchObject({
      target: `${path.join(dir, "inbox")}${path.sep}*.csv`,
    });
    expect(w.events.at(-1)).toMatchObject({ type: "summary", files: 3, succeeded: 4, failed: 0 });
    expect(delivered(dir)).toEqual(["a1@a.csv", "a2@a.csv", "b1@B.CSV", "c1@c.csv.gz"]);
  });

  it("the parquet source: every *.parquet in the folder", async () => {
    const dir = fixture("watch-parquet-folder", "{ use: parquet, path: ./inbox/ }");
    fs.copyFileSync(
      path.join(ROOT, "packages/source-parquet/test/fixtures/reviews.snappy.parquet"),
      path.join(dir, "inbox/reviews.parquet"),
    );

    const w = startWatcher(dir, undefined, ["--once", "--settle", "200ms"]);
    expect((await w.done).code).toBe(0);
    expect(w.events.at(-1)).toMatchObject({ type: "summary", files: 1, succeeded: 12, failed: 0 });
    expect(delivered(dir)).toHaveLength(12);
    expect(delivered(dir)[0]).toBe("rev-000@reviews.parquet");
  });
});
