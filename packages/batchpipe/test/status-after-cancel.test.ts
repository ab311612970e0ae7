// `batchpipe status` after `batchpipe cancel`, with no batchpipe process running the run, listed the
// batches as the run last polled them ("in_progress", "validating") beside "resume with": as if
// nothing had happened. status reads the state only (no network), so it says what it knows: the
// cancel is requested and not settled, the batch states are those last polled, and what settles it.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  batchpipe,
  type EmulatorProcess,
  records,
  signalOnce,
  startBatchpipe,
  startEmulatorProcess,
  writeFiles,
  writePipeline,
} from "./support/harness.js";

let emu: EmulatorProcess;
beforeAll(async () => {
  // 20 lines a second: 100 requests are still running when the run is stopped
  emu = await startEmulatorProcess({ timeScale: 1, latencies: { linesPerSecond: 20 } });
});
afterAll(() => emu.close());

describe("batchpipe status after a cancel no process has acted on", () => {
  it("says the cancel is not settled, that the batch states are the last polled, and what settles it", async () => {
    const dir = writeFiles({ "data.jsonl": records(100) });
    writePipeline(dir, { name: "cancelled", baseUrl: emu.url });
    const run = startBatchpipe(["run", "pipeline.yaml", "--json"], {
      cwd: dir,
      onEvent: (event, child) => {
        if (event.type === "shard_submitted") signalOnce(child, "SIGTERM");
      },
    });
    expect((await run.done).code).toBe(143);
    const cancel = await batchpipe(["cancel", "pipeline.yaml"], { cwd: dir });
    expect(cancel.code, cancel.stderr).toBe(0);

    const status = await batchpipe(["status", "pipeline.yaml"], { cwd: dir });
    expect(status.code).toBe(0);
    const shown = status.stdout
      .replace(/r1-\w+/g, "<run>")
      .replace(/batch_[0-9a-f]{16,}/g, "<batch>")
      .replace(/\d{4}-\d\d-\d\dT[\d:.]+Z/g, "<time>")
      .replace(/: (validating|in_progress) when/, ": <state> when")
      .split("\n")
      .filter((line) => !/^ {2}(tokens|records) /.test(line))
      .join("\n");
    expect(shown).toMatchInlineSnapshot(`
      "cancelled: run <run> stopped (cancel requested)
        ended on: interrupted by SIGTERM (INTERRUPTED) at <time>
        the cancel is not settled: no batchpipe process runs this run, so its batches' states are those last polled
        settle it with: batchpipe run pipeline.yaml (it collects the batches' final states, delivers what finished and fails the rest as batch_cancelled)
        started <time>
        shards open 1 · batches 1
        batch <batch> shard 00001 (attempt 1, 100 requests): <state> when last polled
      "
    `);

    // what it says settles it does
    const settle = await batchpipe(["run", "pipeline.yaml"], { cwd: dir });
    expect(settle.code, settle.stderr).toBe(3);
    const after = await batchpipe(["status", "pipeline.yaml"], { cwd: dir });
    expect(after.stdout).toMatch(/^cancelled: run r1-\w+ cancelled \(cancel requested\)\n/);
    expect(after.stdout).not.toMatch(/when last polled|not settled/);
  });
});
