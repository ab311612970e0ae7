// Watch mode keeps exactly-once per record id across files: a file repeating ids an earlier file
// delivered fails those records as duplicate_id (the first occurrence wins), both with --once and
// in a running watcher.
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import {
  type CliEvent,
  readJsonl,
  signalOnce,
  startWatcher,
  tempDir,
  waitFor,
  writeEmulatorPipeline,
} from "./support/harness.js";

function fixture(name: string): string {
  const dir = tempDir(`bp-${name}-`);
  fs.mkdirSync(path.join(dir, "inbox"));
  writeEmulatorPipeline(dir, { name, errors: true });
  return dir;
}

function write(dir: string, name: string, ids: string[]): void {
  fs.writeFileSync(
    path.join(dir, "inbox", name),
    ids.map((id) => `${JSON.stringify({ id, text: `${id} in ${name}` })}\n`).join(""),
  );
}

type Row = { id: string; source: { file: string }; error?: { code: string; message: string } };

function delivered(dir: string): { results: string[]; errors: string[] } {
  const at = (rows: Row[]) => rows.map((r) => `${r.id}@${path.basename(r.source.file)}`).sort();
  const errorsFile = path.join(dir, "out/errors.jsonl");
  const errors = fs.existsSync(errorsFile) ? readJsonl<Row>(errorsFile) : [];
  for (const row of errors) expect(row.error?.code).toBe("duplicate_id");
  return { results: at(readJsonl<Row>(path.join(dir, "out/results.jsonl"))), errors: at(errors) };
}

describe("watch: one delivery per id across files", () => {
  it("--once: a later file's repeated ids fail as duplicate_id, its new ids are delivered", async () => {
    const dir = fixture("watch-dup-once");
    write(dir, "a.jsonl", ["x1", "x2"]);
    let w = startWatcher(dir, undefined, ["--once", "--settle", "200ms"]);
    expect((await w.done).code).toBe(0);
    write(dir, "b.jsonl", ["x2", "x3"]);
    // a rewritten a.jsonl is a new version of the file: its old ids are repeats too
    write(dir, "a.jsonl", ["x1", "x4"]);
    w = startWatcher(dir, undefined, ["--once", "--settle", "200ms"]);
    const run = await w.done;
    // some records failed: exit 3
    expect(run.code).toBe(3);
    expect(w.events.at(-1)).toMatchObject({ type: "summary", succeeded: 2, failed: 2, filesFailed: 0 });
    expect(delivered(dir)).toEqual({
      results: ["x1@a.jsonl", "x2@a.jsonl", "x3@b.jsonl", "x4@a.jsonl"],
      errors: ["x1@a.jsonl", "x2@b.jsonl"],
    });
    const error = readJsonl<Row>(path.join(dir, "out/errors.jsonl")).find((r) => r.id === "x2")!;
    expect(error.error!.message).toMatch(/^"x2" was already delivered for this pipeline \(from .*a\.jsonl\)/);
  });

  it("a running watcher: a file repeating delivered ids delivers only its new ones", async () => {
    const dir = fixture("watch-dup-live");
    const finished: CliEvent[] = [];
    const w = startWatcher(dir, undefined, ["--settle", "200ms"]);
    await waitFor(() => w.events.some((e) => e.type === "watching"), 20_000, "the watcher to start");
    write(dir, "a.jsonl", ["y1", "y2", "y3"]);
    await waitFor(
      () => w.events.filter((e) => e.type === "group_finished").length === 1,
      60_000,
      "the first file's run",
    );
    write(dir, "b.jsonl", ["y3", "y4", "y1"]);
    await waitFor(
      () => w.events.filter((e) => e.type === "group_finished").length === 2,
      60_000,
      "the second file's run",
    );
    finished.push(...w.events.filter((e) => e.type === "file_done"));
    signalOnce(w.child, "SIGTERM");
    await w.done;
    expect(finished.map((e) => [path.basename(String(e.file)), e.succeeded, e.failed])).toEqual([
      ["a.jsonl", 3, 0],
      ["b.jsonl", 1, 2],
    ]);
    expect(delivered(dir)).toEqual({
      results: ["y1@a.jsonl", "y2@a.jsonl", "y3@a.jsonl", "y4@b.jsonl"],
      errors: ["y1@b.jsonl", "y3@b.jsonl"],
    });
  });
});
