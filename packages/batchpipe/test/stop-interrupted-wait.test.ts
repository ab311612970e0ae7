// `batchpipe stop` sends SIGTERM to the background run and waits (up to --timeout, 60 s) for it to
// save its state and exit. A Ctrl-C during that wait ended stop by Node's default: exit 130 and not
// a word, the run still going down or stuck. It now says it stopped waiting, that the run has the
// stop signal, and how to follow or end it.

import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { batchpipe, FIXTURES, signalOnce, startBatchpipe, tempDir, waitFor } from "./support/harness.js";

describe("Ctrl-C while `batchpipe stop` waits for the background run", () => {
  it("says the run has the stop signal and what to do next", async () => {
    const dir = tempDir("bp-stop-wait-");
    fs.writeFileSync(path.join(dir, "data.jsonl"), '{"id":"a","text":"a"}\n');
    fs.writeFileSync(
      path.join(dir, "pipeline.yaml"),
      [
        "version: 1",
        "name: stop-wait",
        "provider: { use: emulator, emulator: { timeScale: 3600 } }",
        "source: { use: jsonl, path: ./data.jsonl }",
        "transform:",
        '  id: "{{ id }}"',
        '  body: { model: gpt-4o-mini, messages: [{ role: user, content: "{{ text }}" }] }',
        "batch: { poll_interval: 50ms, plugin_timeout: 5m }",
        // a sink whose write never settles: the run cannot end while it is stuck there
        `sinks: [{ use: ${path.join(FIXTURES, "plugins/hang-sink.ts")} }]`,
        "",
      ].join("\n"),
    );
    const started = await batchpipe(["run", "pipeline.yaml", "--detach"], { cwd: dir });
    expect(started.code, started.stderr).toBe(0);
    const pid = Number(/pid (\d+)/.exec(started.stdout)![1]);
    try {
      await waitFor(
        async () =>
          (await batchpipe(["status", "pipeline.yaml"], { cwd: dir })).stdout.includes("): completed"),
        30_000,
        "the batch completed (the run is now stuck in the sink)",
      );
      const log = path.join(dir, ".batchpipe/stop-wait/daemon.log");
      const stop = startBatchpipe(["stop", "pipeline.yaml"], { cwd: dir, timeoutMs: 60_000 });
      // the run got stop's SIGTERM: stop is waiting for it
      await waitFor(() => fs.readFileSync(log, "utf8").includes("SIGTERM received"), 30_000, "the SIGTERM");
      signalOnce(stop.child, "SIGINT");
      const done = await stop.done;
      expect(done.signal, done.stderr).toBe(null);
      expect(done.code, done.stderr).toBe(130);
      expect(done.stderr).toBe(
        [
          "",
          "SIGINT received: no longer waiting (press Ctrl-C again to quit at once)…",
          `■ stopped waiting; the background run (pid ${pid}) has the stop signal and goes on saving its state.`,
          `  follow it: batchpipe logs pipeline.yaml -f · end it at once: kill -9 ${pid} (the state survives)`,
          "",
        ].join("\n"),
      );
    } finally {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
  }, 90_000);
});
