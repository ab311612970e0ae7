// One symlink policy for the jsonl source and watch mode: a file found in the source's folder (or
// under a glob's fixed start) counts if its real path stays inside that folder; a link out of it
// is not followed; a path the spec names itself is read even if it is a link.
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import {
  batchpipe,
  readJsonl,
  signalOnce,
  startWatcher,
  tempDir,
  waitFor,
  writeEmulatorPipeline,
} from "./support/harness.js";

/** inbox/ with a file, a link to a file in inbox/sub/ and a link to a file outside inbox/ */
function fixture(name: string, sourcePath: string): string {
  const dir = tempDir(`bp-${name}-`);
  const line = (id: string) => `${JSON.stringify({ id, text: id })}\n`;
  fs.mkdirSync(path.join(dir, "inbox/sub"), { recursive: true });
  fs.mkdirSync(path.join(dir, "outside"));
  fs.writeFileSync(path.join(dir, "inbox/a.jsonl"), line("plain"));
  fs.writeFileSync(path.join(dir, "inbox/sub/real.data"), line("linked-inside"));
  fs.writeFileSync(path.join(dir, "outside/secret.jsonl"), line("linked-outside"));
  fs.symlinkSync(path.join(dir, "inbox/sub/real.data"), path.join(dir, "inbox/in.jsonl"));
  fs.symlinkSync("../outside/secret.jsonl", path.join(dir, "inbox/out.jsonl"));
  writeEmulatorPipeline(dir, { name, source: sourcePath });
  return dir;
}

const ids = (dir: string) =>
  readJsonl<{ id: string }>(path.join(dir, "out/results.jsonl"))
    .map((r) => r.id)
    .sort();

describe("symbolic links in the source's folder", () => {
  for (const source of ["./inbox/", "./inbox/*.jsonl"]) {
    it(`run (path ${source}): a link inside the folder is read, a link out of it is not`, async () => {
      const dir = fixture("links-run", source);
      const run = await batchpipe(["run", "pipeline.yaml"], { cwd: dir });
      expect(run.code).toBe(0);
      expect(ids(dir)).toEqual(["linked-inside", "plain"]);
    });
  }

  it("run: a link the spec names itself is read (how to read a file elsewhere)", async () => {
    const dir = fixture("links-named", "./inbox/out.jsonl");
    expect((await batchpipe(["run", "pipeline.yaml"], { cwd: dir })).code).toBe(0);
    expect(ids(dir)).toEqual(["linked-outside"]);
  });

  it("watch --once and a running watcher follow the same policy", async () => {
    const dir = fixture("links-watch", "./inbox/");
    const once = startWatcher(dir, undefined, ["--once", "--settle", "200ms"]);
    expect((await once.done).code).toBe(0);
    expect(ids(dir)).toEqual(["linked-inside", "plain"]);

    const live = fixture("links-live", "./inbox/");
    const w = startWatcher(live, undefined, ["--settle", "200ms"]);
    await waitFor(() => w.events.some((e) => e.type === "group_finished"), 60_000, "the first group");
    // a link out of the folder dropped while it watches
    fs.writeFileSync(path.join(live, "outside/late.jsonl"), '{"id":"late-outside","text":"x"}\n');
    fs.symlinkSync(path.join(live, "outside/late.jsonl"), path.join(live, "inbox/late.jsonl"));
    await waitFor(
      () => w.events.some((e) => e.type === "file_skipped" && String(e.file).endsWith("late.jsonl")),
      30_000,
      "the late link to be skipped",
    );
    signalOnce(w.child, "SIGTERM");
    await w.done;
    expect(ids(live)).toEqual(["linked-inside", "plain"]);
    expect(
      w.events.filter((e) => e.type === "file_skipped").map((e) => [path.basename(String(e.file)), e.reason]),
    ).toEqual([
      ["out.jsonl", "link out of the folder"],
      ["late.jsonl", "link out of the folder"],
    ]);
  });
});
