// `provider: { use: emulator }` runs the emulator inside the CLI process. A run stopped by Ctrl-C,
// or a background one by `batchpipe stop`, said "open batches go on at the provider", but those
// batches die with the process: the next run polls them, gets 404s and sends their requests again.
// The stop now says so; a run against a provider of its own keeps the old wording (signals.test).
import { describe, expect, it } from "vitest";
import { batchpipe, signalOnce, waitFor } from "./support/harness.js";
import { slowEmulatorPipeline, speedUp } from "./support/slow-emulator.js";

const GONE =
  "the in-process emulator stopped with this process, and the open batches with it: the next run finds them gone and sends their requests again";

describe("a stopped run on the in-process emulator says its batches ended with it", () => {
  it("Ctrl-C on `batchpipe run`", async () => {
    const dir = slowEmulatorPipeline("emu-stop", 5);
    const run = await batchpipe(["run", "pipeline.yaml"], {
      cwd: dir,
      timeoutMs: 60_000,
      onStderr: (stderr, child) => {
        if (stderr.includes("1 shard")) signalOnce(child, "SIGINT", 300);
      },
    });
    expect(run.code, run.stderr).toBe(130);
    expect(run.stderr).toContain(
      `■ stopped; the state is saved; ${GONE}.\n  resume with: batchpipe run pipeline.yaml\n`,
    );
    expect(run.stderr).not.toContain("go on at the provider");
  }, 60_000);

  it("`batchpipe stop` on `run --detach`", async () => {
    const dir = slowEmulatorPipeline("emu-stop", 5);
    const started = await batchpipe(["run", "pipeline.yaml", "--detach"], { cwd: dir });
    expect(started.code, started.stderr).toBe(0);
    await waitFor(
      async () =>
        (await batchpipe(["status", "pipeline.yaml"], { cwd: dir })).stdout.includes("  batch batch_"),
      30_000,
      "the batch submitted",
    );
    const stop = await batchpipe(["stop", "pipeline.yaml"], { cwd: dir });
    expect(stop.code, stop.stderr).toBe(0);
    expect(stop.stdout).toMatch(
      new RegExp(`^stopped the background run \\(pid \\d+\\); the state is saved; ${GONE}\\.\\n`),
    );
    // status, read from the state, says the same of the batches it lists
    const status = await batchpipe(["status", "pipeline.yaml"], { cwd: dir });
    expect(status.stdout).toMatch(
      /\n {2}batch batch_\w+ shard 00001 \(attempt 1, 5 requests\): in_progress when last polled\n {2}these batches were in the in-process emulator, which stopped with its process: the next run finds them gone and sends their requests again\n/,
    );
    // what it says is so: the batch is gone and its requests are sent again
    speedUp(dir);
    const resume = await batchpipe(["run", "pipeline.yaml", "--json"], { cwd: dir, timeoutMs: 60_000 });
    expect(resume.code, resume.stderr).toBe(0);
    expect(resume.events.find((e) => e.type === "shard_collected")).toMatchObject({
      status: "missing",
      retried: 5,
    });
  }, 90_000);
});
