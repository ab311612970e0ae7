/**
 * Issue 17: a shard is submitted as soon as it is sealed, while the source is still being read. A
 * producer holds a named pipe open; the first shard's batch must be created before the pipe ends.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  type EmulatorProcess,
  exactlyOnceInSinks,
  ONCE,
  records,
  report,
  startBatchpipe,
  startEmulatorProcess,
  tempDir,
  waitFor,
  writePipeline,
} from "./support/harness.js";

let emu: EmulatorProcess | undefined;
afterEach(async () => {
  await emu?.close();
  emu = undefined;
});

describe("streaming submission from a named pipe", () => {
  it("a named pipe a producer holds open: the first shard's batch is created before the source ends", async () => {
    emu = await startEmulatorProcess({ timeScale: 1000 });
    const dir = tempDir();
    const fifo = path.join(dir, "in.fifo");
    execFileSync("mkfifo", [fifo]);
    writePipeline(dir, {
      name: "fifo",
      baseUrl: emu.url,
      data: "in.fifo",
      batch: { max_requests: 100 },
      sqlite: true,
    });
    const run = startBatchpipe(["run", "pipeline.yaml", "--json"], { cwd: dir, timeoutMs: 90_000 });
    // the producer: two full shards, then it keeps the pipe open until a batch exists
    const out = fs.createWriteStream(fifo);
    await new Promise<void>((resolve) => out.write(records(200), () => resolve()));
    let createdWhileOpen = false;
    try {
      await waitFor(
        async () => (await emu!.state()).batches.length > 0,
        30_000,
        "a batch while the pipe is open",
      );
      createdWhileOpen = true;
    } catch {
      // no batch while the source was open: the assertion below says so
    }
    await new Promise<void>((resolve) => out.end(records(50, 201), () => resolve()));
    const done = await run.done;
    expect(createdWhileOpen).toBe(true);
    expect(done.code, done.stderr).toBe(0);
    expect(report(done)).toMatchObject({ read: 250, succeeded: 250, failed: 0 });
    expect(
      exactlyOnceInSinks(
        dir,
        Array.from({ length: 250 }, (_, i) => `r${i + 1}`),
      ),
    ).toEqual(ONCE);
    expect((await emu.state()).batches).toHaveLength(3);
  });
});
