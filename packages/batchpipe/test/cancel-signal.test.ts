// `batchpipe cancel` trapped no signal: Ctrl-C (or SIGTERM) while it cancelled batches through a
// slow or failing provider ended it by Node's default, exit 130/143 and not a word, while run and
// watch say what was saved and what to do. It now stops the cancel on the first signal and says
// what was cancelled, what is left, and the commands that finish it.
import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  batchpipe,
  type EmulatorProcess,
  records,
  signalOnce,
  startBatchpipe,
  startEmulatorProcess,
  tempDir,
  waitFor,
  writePipeline,
} from "./support/harness.js";

let emulator: EmulatorProcess | undefined;
afterEach(async () => {
  await emulator?.close();
  emulator = undefined;
});

const CANCEL_ROUTE = "POST /v1/batches/:id/cancel";

describe.each([
  ["SIGINT", 130],
  ["SIGTERM", 143],
] as const)("batchpipe cancel stopped by %s", (signal, exitCode) => {
  it("says what was cancelled, what is left and how to finish it", async () => {
    // batches that stay open; every cancel answers 503 retry-after 4 s (its retries span ~28 s)
    emulator = await startEmulatorProcess({
      timeScale: 1,
      latencies: { linesPerSecond: 0.001, validation: 0.05 },
      faults: [{ status: 503, retryAfter: 4, route: CANCEL_ROUTE }],
    });
    const dir = tempDir("bp-cancel-signal-");
    fs.writeFileSync(path.join(dir, "data.jsonl"), records(4));
    writePipeline(dir, {
      baseUrl: emulator.url,
      provider: ["retry_attempts: 8"],
      batch: { poll_interval: "5s" },
    });
    // a run that leaves its batch open at the provider
    const killed = await batchpipe(["run", "pipeline.yaml", "--json"], {
      cwd: dir,
      timeoutMs: 60_000,
      onEvent: (event, proc) => {
        if (event.type === "shard_submitted") signalOnce(proc, "SIGKILL");
      },
    });
    expect(killed.signal, killed.stderr).toBe("SIGKILL");

    const cancel = startBatchpipe(["cancel", "pipeline.yaml"], { cwd: dir, timeoutMs: 60_000 });
    // the first cancel call failed: the command is in its retries
    await waitFor(
      async () => ((await emulator!.state()).calls[CANCEL_ROUTE] ?? 0) > 0,
      30_000,
      "the cancel call",
    );
    signalOnce(cancel.child, signal);
    const done = await cancel.done;
    expect(done.signal, done.stderr).toBe(null);
    expect(done.code, done.stderr).toBe(exitCode);
    expect(done.stderr.replace(/r1-\w+/g, "<run>")).toBe(
      [
        "",
        `${signal} received: stopping the cancel (press Ctrl-C again to quit at once)…`,
        "■ cancel interrupted: 0 of 1 open batches of run <run> cancelled; the run is flagged to cancel.",
        "  cancel the rest at the provider: batchpipe cancel pipeline.yaml",
        "  or let the run cancel them, deliver the finished results and end: batchpipe run pipeline.yaml",
        "",
      ].join("\n"),
    );
    expect(done.stdout).toBe("");

    // what it says finishes the cancel does, once the provider answers
    await emulator.configure({ faults: [] });
    const rest = await batchpipe(["cancel", "pipeline.yaml"], { cwd: dir });
    expect(rest.code, rest.stderr).toBe(0);
    expect(rest.stdout).toMatch(/^■ run r1-\w+: cancel requested; 1 open batch cancelled\n/);
  }, 90_000);
});
