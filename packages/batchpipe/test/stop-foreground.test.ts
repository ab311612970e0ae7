// `batchpipe stop` on a pipeline a terminal runs (no --detach): it said "no background run of "x" is
// running" with the hint "Start one with `batchpipe run <spec> --detach`", while a run went on in
// another terminal, so a user took the pipeline for idle. It now names the process and how to stop
// it (exit 2 as before; the run is left alone).
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
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

let emu: EmulatorProcess;
beforeAll(async () => {
  // 20 lines a second: the run's batch stays open while stop is tried
  emu = await startEmulatorProcess({ timeScale: 1, latencies: { linesPerSecond: 20 } });
});
afterAll(() => emu.close());

describe("batchpipe stop on a foreground process", () => {
  it("a foreground run: stop names its pid and says to Ctrl-C or kill it", async () => {
    const dir = tempDir("bp-stop-fg-");
    fs.writeFileSync(path.join(dir, "data.jsonl"), records(200));
    writePipeline(dir, { name: "stop-fg", baseUrl: emu.url });
    const run = startBatchpipe(["run", "pipeline.yaml", "--json"], { cwd: dir });
    await waitFor(() => run.events.some((e) => e.type === "shard_submitted"), 60_000, "a batch");
    const stop = await batchpipe(["stop", "pipeline.yaml"], { cwd: dir });
    expect(stop.code).toBe(2);
    const pid = run.child.pid;
    expect(stop.stderr.replaceAll(String(pid), "<pid>")).toMatchInlineSnapshot(`
      "✖ "stop-fg" is not running in the background: a \`batchpipe run\` (pid <pid>) runs it in a terminal (USAGE)
        hint: Press Ctrl-C in that terminal, or kill <pid> (SIGTERM): it saves its state, and \`batchpipe run pipeline.yaml\` resumes.
      "
    `);
    // the run went on: stop did not signal it
    expect(run.child.exitCode).toBeNull();
    signalOnce(run.child, "SIGTERM");
    expect((await run.done).code).toBe(143);
    // nothing runs now: the message of before
    const idle = await batchpipe(["stop", "pipeline.yaml"], { cwd: dir });
    expect(idle.code).toBe(2);
    expect(idle.stderr).toContain('no background run of "stop-fg" is running');
  });
});
