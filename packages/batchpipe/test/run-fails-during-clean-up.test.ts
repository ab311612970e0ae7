// A run that fails (here: a bad line under on_invalid: fail) while a collected shard's clean-up is
// under way at the provider: the clean-up is left to the next start, which cleans up what is left,
// and the failure is the run's last word. Before, the clean-up went on behind the failure (with the
// in-process emulator closed under it: "DELETE /files/… failed (ECONNRESET); retrying", "could
// not clean up shard …" printed after the error).
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { startBatchpipe, tempDir } from "./support/harness.js";

const lines = (from: number, n: number) =>
  Array.from({ length: n }, (_, i) => `${JSON.stringify({ id: `r${from + i}`, text: `text ${i}` })}\n`).join(
    "",
  );

describe("a run failing while a shard's clean-up is under way", () => {
  it("stops the clean-up and ends on its failure at once", async () => {
    const dir = tempDir("bp-fail-clean-up-");
    const fifo = path.join(dir, "feed.jsonl");
    execFileSync("mkfifo", [fifo]);
    // the first file deletion (the first collected shard's clean-up) is answered 120 s late
    const slowDelete = '{ route: "DELETE /v1/files/:id", calls: [1], kind: delay, delayMs: 120000 }';
    fs.writeFileSync(
      path.join(dir, "pipeline.yaml"),
      [
        "version: 1",
        "name: fail-clean-up",
        `provider: { use: emulator, emulator: { timeScale: 3600, faults: [${slowDelete}] } }`,
        "source: { use: jsonl, path: ./feed.jsonl, on_invalid: fail }",
        "transform:",
        '  id: "{{ id }}"',
        '  body: { model: gpt-4o-mini, messages: [{ role: user, content: "{{ text }}" }] }',
        "batch: { poll_interval: 50ms, max_requests: 100 }",
        "sinks: [{ use: jsonl, path: ./out/results.jsonl }]",
        "",
      ].join("\n"),
    );
    let feed: fs.WriteStream | undefined;
    const run = startBatchpipe(["run", "pipeline.yaml", "--json"], {
      cwd: dir,
      onEvent: (event) => {
        // the first shard is collected: its clean-up starts (and hangs); then the bad line
        if (event.type === "shard_collected" && feed) setTimeout(() => feed?.end("not json\n"), 300);
      },
    });
    feed = fs.createWriteStream(fifo);
    feed.write(lines(0, 3_000));
    const done = await run.done;
    expect(done.code, done.stderr).toBe(1);
    expect(done.events.at(-1)).toMatchObject({ type: "error", code: "SOURCE_FAILED" });
    // not held up by the clean-up under way (answered 120 s late)
    expect(done.ms).toBeLessThan(60_000);
    const warnings = done.events.filter((e) => e.type === "warning").map((e) => e.message);
    expect(warnings.filter((w) => /clean up|DELETE/.test(String(w)))).toEqual([]);
    expect(done.stderr).not.toMatch(/clean up|DELETE/);
  });
});
