// Signals during a run: SIGTERM/SIGINT save the state and say how to resume (the batches go on at
// the provider); the resumed run pays for nothing twice; a second SIGINT exits at once.
import type { ChildProcess } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import type { Emulator } from "@batchpipe/openai-emulator";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  batchesOf,
  batchpipe,
  expectEachOnce,
  FIXTURES,
  records,
  report,
  startBatchpipe,
  startEmulator,
  tempDir,
  writePipeline,
} from "./support/harness.js";

let emu: Emulator;
beforeAll(async () => {
  // slow enough that batches are still running when the signal arrives
  emu = await startEmulator({ timeScale: 1, latencies: { validation: 0.2, linesPerSecond: 10 } });
});
afterAll(async () => {
  await emu?.close();
});

const ours = (name: string) => batchesOf(emu, name);

describe("signals", () => {
  it("SIGTERM mid-run: state saved, the resume command printed, batches left running; the next run finishes them", async () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, "data.jsonl"), records(20));
    const spec = writePipeline(dir, { baseUrl: emu.url, name: "term", batch: { max_requests: 10 } });
    let signalled = false;
    const first = await batchpipe(["run", "pipeline.yaml", "--json"], {
      cwd: dir,
      onEvent(event, child) {
        if (event.type === "shard_submitted" && !signalled) {
          signalled = true;
          child.kill("SIGTERM");
        }
      },
    });
    expect(first.code).toBe(143);
    expect(first.events.at(-1)).toEqual({
      type: "interrupted",
      signal: "SIGTERM",
      resume: "batchpipe run pipeline.yaml",
    });
    expect(first.stderr).toBe("");
    const submitted = ours("term");
    expect(submitted.length).toBeGreaterThanOrEqual(1);
    // nothing was cancelled at the provider: the batches go on
    expect(submitted.every((b) => b.status !== "cancelled" && b.status !== "cancelling")).toBe(true);

    // the human form says the same
    let sent = false;
    const human = await batchpipe(["run", "pipeline.yaml"], {
      cwd: dir,
      onStderr(stderr, child) {
        if (stderr.includes("resuming run") && !sent) {
          sent = true;
          child.kill("SIGINT");
        }
      },
    });
    expect(human.code).toBe(130);
    expect(human.stderr).toContain("SIGINT received: saving state");
    expect(human.stderr).toContain("open batches go on at the provider");
    expect(human.stderr).toContain("resume with: batchpipe run pipeline.yaml");

    await emu.configure({ latencies: { linesPerSecond: 20_000 } });
    const resumed = await batchpipe(["run", spec, "--json"], { cwd: dir });
    await emu.configure({ latencies: { linesPerSecond: 10 } });
    expect(resumed.stderr).toBe("");
    expect(resumed.code).toBe(0);
    expect(resumed.events[0]).toMatchObject({ type: "run_started", resumed: true });
    expect(report(resumed)).toMatchObject({ read: 20, succeeded: 20, unaccounted: 0 });
    expectEachOnce(path.join(dir, "out/results.jsonl"), 20);
    // two shards, two batches: the interrupted runs' batches were adopted, not paid for again
    expect(ours("term")).toHaveLength(2);
  });

  // the first run of a new state asks the provider for this pipeline's batches before the run
  // exists; a signal then aborted that call and was reported as a bug (exit 1)
  it("a signal while the provider's first call is in flight is an interruption (exit 143), not an unexpected error", async () => {
    // a provider that takes the connection and never answers
    const sockets: net.Socket[] = [];
    const server = net.createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const dir = tempDir();
      fs.writeFileSync(path.join(dir, "data.jsonl"), records(5));
      const { port } = server.address() as net.AddressInfo;
      writePipeline(dir, { baseUrl: `http://127.0.0.1:${port}/v1`, name: "first-call" });
      const running = startBatchpipe(["run", "pipeline.yaml", "--json"], { cwd: dir });
      for (let i = 0; sockets.length === 0 && i < 200; i++) await sleep(25);
      expect(sockets.length).toBeGreaterThan(0);
      running.child.kill("SIGTERM");
      const run = await running.done;
      expect(run.stderr).not.toContain("unexpected error");
      expect(run.code).toBe(143);
      expect(run.events.at(-1)).toMatchObject({ type: "interrupted", signal: "SIGTERM" });
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it("a second SIGINT exits at once, even while a plugin call is stuck", async () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, "data.jsonl"), records(2));
    writePipeline(dir, {
      baseUrl: emu.url,
      name: "twice",
      sinks: [`- { use: ${path.join(FIXTURES, "plugins/hang-sink.ts")} }`],
      batch: { plugin_timeout: "5m" },
    });
    await emu.configure({ latencies: { linesPerSecond: 20_000 } });
    let secondAt = 0;
    let child: ChildProcess | undefined;
    const waitForStuckWrite = async () => {
      // the batch ended: the engine is now stuck in the sink's write
      while (!ours("twice").some((b) => b.status === "completed")) await sleep(100);
      await sleep(1000);
      child!.kill("SIGINT");
      await sleep(1000);
      secondAt = Date.now();
      child!.kill("SIGINT");
    };
    const running = startBatchpipe(["run", "pipeline.yaml"], { cwd: dir });
    child = running.child;
    void waitForStuckWrite();
    const run = await running.done;
    await emu.configure({ latencies: { linesPerSecond: 10 } });
    expect(run.code).toBe(130);
    expect(run.stderr).toContain("press Ctrl-C again to quit at once");
    expect(Date.now() - secondAt).toBeLessThan(3000);
  });
});

function sleep(ms: number) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
