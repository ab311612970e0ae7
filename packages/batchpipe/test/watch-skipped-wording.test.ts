// What watch says of a file it does not take. A link out of the watched folder is skipped (its
// records are never read), yet the human line said "= inbox/out.jsonl already processed (same
// content)", as for a file done before: the user took its records as delivered. A second write of
// the same bytes while the first waits in the queue said "already processed" too, before anything
// ran. Now: "- inbox/out.jsonl skipped: a link to a file outside the watched folder (…)", and
// "= inbox/a.jsonl already queued (same content)" (event reason "already queued").
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { signalOnce, startBatchpipe, tempDir, waitFor, writeEmulatorPipeline } from "./support/harness.js";

describe("batchpipe watch: files it does not take", () => {
  it("a link out of the folder is said to be skipped, not processed", async () => {
    const dir = tempDir("bp-watch-skip-link-");
    fs.mkdirSync(path.join(dir, "inbox"));
    fs.mkdirSync(path.join(dir, "outside"));
    fs.writeFileSync(path.join(dir, "inbox/a.jsonl"), '{"id":"a1","text":"a"}\n');
    fs.writeFileSync(path.join(dir, "outside/secret.jsonl"), '{"id":"s1","text":"s"}\n');
    fs.symlinkSync("../outside/secret.jsonl", path.join(dir, "inbox/out.jsonl"));
    writeEmulatorPipeline(dir, { name: "watch-skip-link" });
    // a running watcher (--once lists the folder as the source does, which leaves the link out unsaid)
    const w = startBatchpipe(["watch", "pipeline.yaml", "--settle", "200ms", "--coalesce", "300ms"], {
      cwd: dir,
    });
    await waitFor(() => w.stderr().includes("out.jsonl"), 30_000, "a line on out.jsonl");
    await waitFor(() => w.stderr().includes("■ run"), 60_000, "the group of a.jsonl");
    signalOnce(w.child, "SIGTERM");
    await w.done;
    const lines = w
      .stderr()
      .split("\n")
      .filter((line) => line.includes("out.jsonl"));
    expect(lines).toEqual([
      "- inbox/out.jsonl skipped: a link to a file outside the watched folder (name the file or its folder in the source's path to read it)",
    ]);
  });

  it("the same bytes written again while queued are 'already queued'", async () => {
    const dir = tempDir("bp-watch-skip-queued-");
    fs.mkdirSync(path.join(dir, "inbox"));
    writeEmulatorPipeline(dir, { name: "watch-skip-queued" });
    const w = startBatchpipe(["watch", "pipeline.yaml", "--json", "--settle", "200ms", "--coalesce", "4s"], {
      cwd: dir,
    });
    await waitFor(() => w.events.some((e) => e.type === "watching"), 30_000, "the watcher");
    const file = path.join(dir, "inbox/a.jsonl");
    fs.writeFileSync(file, '{"id":"a1","text":"a"}\n');
    await waitFor(() => w.events.some((e) => e.type === "file_queued"), 30_000, "a.jsonl queued");
    fs.writeFileSync(file, '{"id":"a1","text":"a"}\n');
    await waitFor(() => w.events.some((e) => e.type === "file_skipped"), 30_000, "the second write");
    await waitFor(() => w.events.some((e) => e.type === "group_finished"), 60_000, "the group");
    signalOnce(w.child, "SIGTERM");
    await w.done;
    const kinds = w.events
      .filter((e) => e.type.startsWith("file_") || e.type.startsWith("group_"))
      .map((e) => (e.type === "file_skipped" ? `${e.type}: ${e.reason}` : e.type));
    expect(kinds.slice(0, 3)).toEqual(["file_queued", "file_skipped: already queued", "group_started"]);
  });
});
