// A bad line (on_invalid: fail) late in a big watched file, after shards of the same group were
// already submitted: the file is cut at its bad line and reported failed, the group's other files
// are processed, and the watcher goes on. It used to retry the group's unfinished run for ever
// (`watch --once` never ended): the run kept its paid shards, and every resume read the same line.
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import {
  type CliEvent,
  querySqlite,
  readJsonl,
  startWatcher,
  tempDir,
  writeEmulatorPipeline,
} from "./support/harness.js";

const lines = (prefix: string, n: number) =>
  Array.from({ length: n }, (_, i) => `${JSON.stringify({ id: `${prefix}${i}`, text: `text ${i}` })}\n`).join(
    "",
  );

/** a, b (cut at line 30,001, 10 lines after it), c in a watched folder, on_invalid: fail */
function fixture(name: string): string {
  const dir = tempDir(`bp-${name}-`);
  fs.mkdirSync(path.join(dir, "inbox"));
  writeEmulatorPipeline(dir, { name, errors: true });
  const spec = fs.readFileSync(path.join(dir, "pipeline.yaml"), "utf8");
  fs.writeFileSync(
    path.join(dir, "pipeline.yaml"),
    spec
      .replace("path: ./inbox/ }", "path: ./inbox/, on_invalid: fail }")
      .replace("batch: { poll_interval: 50ms }", "batch: { poll_interval: 50ms, max_requests: 2000 }"),
  );
  fs.writeFileSync(path.join(dir, "inbox", "a.jsonl"), lines("a", 4_000));
  fs.writeFileSync(path.join(dir, "inbox", "b.jsonl"), `${lines("b", 30_000)}not json\n${lines("late", 10)}`);
  fs.writeFileSync(path.join(dir, "inbox", "c.jsonl"), lines("c", 3_000));
  return dir;
}

/** what a, b and c delivered: a and c whole, b up to its bad line, each id once */
function expectDelivered(dir: string, name: string): void {
  const ids = readJsonl<{ id: string }>(path.join(dir, "out/results.jsonl")).map((r) => r.id);
  expect(ids.length).toBe(37_000);
  expect(new Set(ids).size).toBe(37_000);
  expect(ids.some((id) => id.startsWith("late"))).toBe(false);
  expect(
    querySqlite(
      path.join(dir, `.batchpipe/${name}/watch/watch.db`),
      "SELECT substr(path, -7) AS file, status, succeeded FROM files ORDER BY path",
    ),
  ).toEqual([
    { file: "a.jsonl", status: "done", succeeded: 4_000 },
    { file: "b.jsonl", status: "failed", succeeded: 30_000 },
    { file: "c.jsonl", status: "done", succeeded: 3_000 },
  ]);
}

describe("batchpipe watch: a bad line after the group's first batches were sent", () => {
  it("fails that file at its line, processes the others and ends", async () => {
    const dir = fixture("bad-late");
    const w = startWatcher(dir, undefined, ["--once", "--settle", "100ms"]);
    const done = await w.done;
    const events = w.events;
    const retries = events.filter((e) => e.type === "group_retry");
    expect(retries, JSON.stringify(retries.slice(0, 2))).toEqual([]);
    expect(done.code, done.stderr).toBe(1);
    // shards were sent before the bad line was read: the case the group could not be split in
    const failedAt = events.findIndex((e) => e.type === "file_failed");
    expect(failedAt).toBeGreaterThan(-1);
    expect(events.slice(0, failedAt).some((e) => engineEvent(e, "shard_submitted"))).toBe(true);
    const failed = events[failedAt] as {
      file: string;
      records: number;
      error: { code: string; message: string };
    };
    expect(path.basename(failed.file)).toBe("b.jsonl");
    expect(failed.records).toBe(30_000);
    expect(failed.error.code).toBe("SOURCE_FAILED");
    expect(failed.error.message).toContain(`${path.join(dir, "inbox", "b.jsonl")}:30001`);

    expectDelivered(dir, "bad-late");
    const byFile = Object.fromEntries(
      events
        .filter((e) => e.type === "file_done")
        .map((e) => [path.basename(e.file as string), { succeeded: e.succeeded, status: e.status }]),
    );
    expect(byFile).toEqual({
      "a.jsonl": { succeeded: 4_000, status: "done" },
      "b.jsonl": { succeeded: 30_000, status: "failed" },
      "c.jsonl": { succeeded: 3_000, status: "done" },
    });
    expect(events.at(-1)).toMatchObject({ type: "summary", files: 2, filesFailed: 1, succeeded: 37_000 });
  });

  it("killed after the file failed: the next watcher resumes, b stays failed, a and c are done", async () => {
    const dir = fixture("bad-late-kill");
    const killed = startWatcher(dir, (e) => e.type === "file_failed", ["--once", "--settle", "100ms"]);
    expect((await killed.done).signal).toBe("SIGKILL");
    const again = startWatcher(dir, undefined, ["--once", "--settle", "100ms"]);
    const done = await again.done;
    expect(done.code, done.stderr).toBe(1);
    expect(done.events.filter((e) => e.type === "group_retry")).toEqual([]);
    expect(done.events.at(-1)).toMatchObject({ type: "summary", files: 2, filesFailed: 1 });
    expectDelivered(dir, "bad-late-kill");
  });
});

function engineEvent(e: CliEvent, type: string): boolean {
  return e.type === "engine" && (e.event as CliEvent).type === type;
}
