// A named pipe in a watched folder is not a file that arrives: it is skipped, never opened. Opening
// one waits for a writer, which held the watcher's copying (one file at a time) for good: the files
// after it were never taken, and SIGTERM could not stop the watcher.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { expect, it } from "vitest";
import {
  type CliEvent,
  readJsonl,
  signalOnce,
  startBatchpipe,
  tempDir,
  waitFor,
  writeEmulatorPipeline,
} from "./support/harness.js";

it("a named pipe in the watched folder (there at the start, or made while watching) is skipped; the files beside it run", async () => {
  const dir = tempDir("bp-watch-pipe-");
  fs.mkdirSync(path.join(dir, "inbox"));
  writeEmulatorPipeline(dir, { name: "watch-pipe" });
  execFileSync("mkfifo", [path.join(dir, "inbox/early.jsonl")]);
  const w = startBatchpipe(["watch", "pipeline.yaml", "--json", "--settle", "200ms", "--coalesce", "200ms"], {
    cwd: dir,
  });
  const done = (name: string) => (e: CliEvent) =>
    e.type === "file_done" && path.basename(String(e.file)) === name;
  try {
    await waitFor(() => w.events.some((e) => e.type === "watching"), 30_000, "the watcher to start");
    fs.writeFileSync(path.join(dir, "inbox/a.jsonl"), '{"id":"a1","text":"x"}\n');
    await waitFor(() => w.events.some(done("a.jsonl")), 30_000, "a.jsonl to run beside early.jsonl");
    execFileSync("mkfifo", [path.join(dir, "inbox/late.jsonl")]);
    fs.writeFileSync(path.join(dir, "inbox/b.jsonl"), '{"id":"b1","text":"y"}\n');
    await waitFor(() => w.events.some(done("b.jsonl")), 30_000, "b.jsonl to run after late.jsonl");

    signalOnce(w.child, "SIGTERM");
    expect((await w.done).code).toBe(143);
    const taken = w.events.filter((e) => e.type === "file_queued").map((e) => path.basename(String(e.file)));
    expect(taken).toEqual(["a.jsonl", "b.jsonl"]);
    const ids = readJsonl<{ id: string }>(path.join(dir, "out/results.jsonl")).map((r) => r.id);
    expect(ids.sort()).toEqual(["a1", "b1"]);
  } finally {
    // a watcher stuck opening a pipe ignores SIGTERM
    if (w.child.exitCode === null && w.child.signalCode === null) signalOnce(w.child, "SIGKILL");
  }
}, 120_000);
