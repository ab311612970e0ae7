import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { batchpipe, readJsonl, startWatcher, tempDir } from "./support/harness.js";

/** a temp folder with ./data/ and a pipeline over it (in-process emulator, jsonl sink) */
function onceFixture(name: string, extra: { source?: string; batch?: string } = {}): string {
  const dir = tempDir(`bp-${name}-`);
  fs.mkdirSync(path.join(dir, "data"));
  const more = (text?: string) => (text ? `, ${text}` : "");
  fs.writeFileSync(
    path.join(dir, "pipeline.yaml"),
    [
      "version: 1",
      `name: ${name}`,
      "provider: { use: emulator, emulator: { timeScale: 3600 } }",
      `source: { use: jsonl, path: ./data/${more(extra.source)} }`,
      "transform:",
      '  id: "{{ id }}"',
      '  body: { model: gpt-4o-mini, messages: [{ role: user, content: "{{ text }}" }] }',
      `batch: { poll_interval: 50ms${more(extra.batch)} }`,
      "sinks: [{ use: jsonl, path: ./out/results.jsonl, fields: [id, status, output, source] }]",
      "",
    ].join("\n"),
  );
  return dir;
}

describe("batchpipe watch --once", () => {
  it("--once processes a rewritten file again, an unchanged one never", async () => {
    const dir = onceFixture("watch-once");
    const write = (name: string, ids: string[]) =>
      fs.writeFileSync(
        path.join(dir, "data", name),
        ids.map((id) => `${JSON.stringify({ id, text: id })}\n`).join(""),
      );
    const once = () => startWatcher(dir, undefined, ["--once", "--settle", "200ms"]);
    write("a.jsonl", ["a1", "a2"]);
    write("b.jsonl", ["b1"]);
    let w = once();
    expect((await w.done).code).toBe(0);
    expect(w.events.at(-1)).toMatchObject({ type: "summary", files: 2, succeeded: 3 });
    // a new id (c1) in two files of one group: the first occurrence wins and the other fails as
    // duplicate_id in the same run (issue 17: a duplicate no longer refuses the run, so the group
    // is not split); an id delivered before (b1 by the first b.jsonl) fails as duplicate_id too (exit 3)
    write("b.jsonl", ["b1", "b2", "c1"]);
    write("c.jsonl", ["b1", "c1"]);
    w = once();
    expect((await w.done).code).toBe(3);
    expect(w.events.some((e) => e.type === "file_skipped" && String(e.file).endsWith("a.jsonl"))).toBe(true);
    expect(w.events.some((e) => e.type === "group_split")).toBe(false);
    w = once();
    expect((await w.done).code).toBe(0);
    expect(w.events.at(-1)).toMatchObject({ type: "summary", files: 0 });
    const ids = readJsonl<{ id: string; source: { file: string } }>(path.join(dir, "out/results.jsonl")).map(
      (r) => `${r.id}@${path.basename(r.source.file)}`,
    );
    expect(ids.sort()).toEqual(["a1@a.jsonl", "a2@a.jsonl", "b1@b.jsonl", "b2@b.jsonl", "c1@b.jsonl"]);
  });

  it("a group whose run finished before the crash recorded it is marked done, not run again", async () => {
    const dir = onceFixture("watch-finished", { batch: "allow_same_dataset: true" });
    fs.writeFileSync(path.join(dir, "data", "a.jsonl"), '{"id":"a1","text":"x"}\n{"id":"a2","text":"y"}\n');
    let w = startWatcher(dir, undefined, ["--once", "--settle", "200ms"]);
    expect((await w.done).code).toBe(0);
    // as if the watcher died after the engine finished the run but before the registry said so
    const registry = new Database(path.join(dir, ".batchpipe/watch-finished/watch/watch.db"));
    registry.prepare("UPDATE groups SET status = 'pending'").run();
    registry.prepare("UPDATE files SET status = 'pending'").run();
    registry.close();
    w = startWatcher(dir, undefined, ["--once", "--settle", "200ms"]);
    expect((await w.done).code).toBe(0);
    // allow_same_dataset is true: only the registry's run id stops a second run
    expect(w.events.some((e) => e.type === "group_started")).toBe(false);
    expect(readJsonl(path.join(dir, "out/results.jsonl"))).toHaveLength(2);
    const check = new Database(path.join(dir, ".batchpipe/watch-finished/watch/watch.db"), {
      readonly: true,
    });
    expect(check.prepare("SELECT status FROM groups").all()).toEqual([{ status: "done" }]);
    check.close();
  });

  it("a file the source fails in ends at its bad line and fails; the others of its group are processed", async () => {
    const dir = onceFixture("watch-bad", { source: "on_invalid: fail" });
    fs.writeFileSync(path.join(dir, "data", "good.jsonl"), '{"id":"g1","text":"x"}\n');
    fs.writeFileSync(
      path.join(dir, "data", "bad.jsonl"),
      '{"id":"b1","text":"x"}\nnot json\n{"id":"b2","text":"y"}\n',
    );
    const w = startWatcher(dir, undefined, ["--once", "--settle", "200ms"]);
    expect((await w.done).code).toBe(1);
    expect(w.events.at(-1)).toMatchObject({ type: "summary", files: 1, filesFailed: 1, succeeded: 2 });
    const failed = w.events.find((e) => e.type === "file_failed") as {
      file: string;
      records: number;
      error: { code: string };
    };
    expect([path.basename(failed.file), failed.records, failed.error.code]).toEqual([
      "bad.jsonl",
      1,
      "SOURCE_FAILED",
    ]);
    expect(
      w.events.filter((e) => e.type === "file_done").map((e) => [path.basename(e.file as string), e.status]),
    ).toEqual([
      ["bad.jsonl", "failed"],
      ["good.jsonl", "done"],
    ]);
    expect(
      readJsonl<{ id: string }>(path.join(dir, "out/results.jsonl"))
        .map((r) => r.id)
        .sort(),
    ).toEqual(["b1", "g1"]);
    // the failed version is not tried again; a fixed file is: its new ids delivered, b1 (delivered
    // from the failed version) a duplicate_id as for any rewritten file (exit 3: a record failed)
    fs.writeFileSync(path.join(dir, "data", "bad.jsonl"), '{"id":"b1","text":"x"}\n{"id":"b2","text":"y"}\n');
    const again = startWatcher(dir, undefined, ["--once", "--settle", "200ms"]);
    expect((await again.done).code).toBe(3);
    expect(again.events.at(-1)).toMatchObject({ type: "summary", files: 1, succeeded: 1, failed: 1 });
  });

  // issue 17: watch takes --no-cache as run does
  it("a file whose requests an earlier file paid is answered from the result cache; with --no-cache it is sent again", async () => {
    const dir = onceFixture("watch-no-cache");
    const write = (name: string, ids: string[]) =>
      fs.writeFileSync(
        path.join(dir, "data", name),
        ids.map((id, i) => `${JSON.stringify({ id, text: `text ${i}` })}\n`).join(""),
      );
    /** the report of the one group a `watch --once` ran, and how it ended */
    const once = async (extra: string[] = []) => {
      const w = startWatcher(dir, undefined, ["--once", "--settle", "200ms", ...extra]);
      expect((await w.done).code).toBe(0);
      const finished = w.events.filter((e) => e.type === "group_finished");
      expect(finished).toHaveLength(1);
      return (finished[0] as { report: Record<string, unknown> }).report;
    };
    write("a.jsonl", ["a1", "a2", "a3"]);
    expect(await once()).toMatchObject({ succeeded: 3, cached: 0, batches: 1 });
    // the same three requests under other ids
    write("b.jsonl", ["b1", "b2", "b3"]);
    expect(await once()).toMatchObject({ succeeded: 3, cached: 3, batches: 0, cost: 0 });
    write("c.jsonl", ["c1", "c2", "c3"]);
    expect(await once(["--no-cache"])).toMatchObject({ succeeded: 3, cached: 0, batches: 1 });
    const ids = readJsonl<{ id: string }>(path.join(dir, "out/results.jsonl")).map((r) => r.id);
    expect(ids.sort()).toEqual(["a1", "a2", "a3", "b1", "b2", "b3", "c1", "c2", "c3"]);
  });

  it("a pipeline `run` processed is refused (exit 2) instead of delivering the run's records again", async () => {
    const dir = onceFixture("watch-after-run");
    const write = (name: string, ids: string[]) =>
      fs.writeFileSync(
        path.join(dir, "data", name),
        ids.map((id) => `${JSON.stringify({ id, text: id })}\n`).join(""),
      );
    write("x.jsonl", ["x1", "x2"]);
    write("y.jsonl", ["y1"]);
    const run = await batchpipe(["run", "pipeline.yaml", "--json"], { cwd: dir });
    expect(run.code, run.stderr).toBe(0);
    write("z.jsonl", ["z1"]);
    const results = path.join(dir, "out/results.jsonl");
    const refused = await batchpipe(["watch", "pipeline.yaml", "--once", "--settle", "100ms"], { cwd: dir });
    expect(refused.code, refused.stderr).toBe(2);
    expect(refused.stderr).toContain("this pipeline was processed by `batchpipe run`");
    expect(refused.stderr).toContain("pass --force");
    expect(readJsonl(results)).toHaveLength(3);
    // the files the run read moved away, --force watches what arrives from now on, after the run's rows
    fs.renameSync(path.join(dir, "data/x.jsonl"), path.join(dir, "x.jsonl"));
    fs.renameSync(path.join(dir, "data/y.jsonl"), path.join(dir, "y.jsonl"));
    const w = startWatcher(dir, undefined, ["--once", "--settle", "100ms", "--force"]);
    expect((await w.done).code).toBe(0);
    const ids = readJsonl<{ id: string }>(results).map((r) => r.id);
    expect([...ids.slice(0, 3).sort(), ...ids.slice(3)]).toEqual(["x1", "x2", "y1", "z1"]);
    // the watcher took a file: no longer refused without --force
    expect((await startWatcher(dir, undefined, ["--once", "--settle", "100ms"]).done).code).toBe(0);
  });
});
