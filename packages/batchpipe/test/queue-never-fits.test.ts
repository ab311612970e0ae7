// A shard bigger than the provider's queue: the queue refuses it with nothing else of the run in
// flight, so no batch ending will ever make room. The run stops with QUEUE_TOO_SMALL (the shard's
// size, what the provider allows, the setting that seals smaller shards) instead of creating a batch
// every turn forever. Real CLI in a child process, emulator over HTTP.
import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { anthropicState, env, KEY, writeAnthropicPipeline } from "./support/anthropic.js";
import {
  batchpipe,
  type EmulatorProcess,
  records,
  startBatchpipe,
  startEmulatorProcess,
  tempDir,
  writePipeline,
} from "./support/harness.js";

let emu: EmulatorProcess | undefined;
afterEach(async () => {
  await emu?.close();
  emu = undefined;
});

async function until(check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 200 && !(await check()); i++) await new Promise((r) => setTimeout(r, 50));
}

const errorOf = (events: { type: string }[]) =>
  events.find((e) => e.type === "error") as { code: string; message: string; hint: string } | undefined;

describe("a shard the provider's queue can never take", () => {
  it("openai: refused with nothing in flight and over the stated limit → QUEUE_TOO_SMALL after one batch", async () => {
    emu = await startEmulatorProcess({ timeScale: 1, queueLimits: { "gpt-4o-mini": 100 } });
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, "data.jsonl"), records(20));
    const spec = writePipeline(dir, { baseUrl: emu.url, batch: { poll_interval: "50ms" } });
    const run = await batchpipe(["run", spec, "--json"], { cwd: dir, timeoutMs: 60_000 });
    expect(run.code, run.stderr).toBe(1);
    const error = errorOf(run.events);
    expect(error?.code).toBe("QUEUE_TOO_SMALL");
    expect(error?.message).toMatch(
      /^shard 00001 \(~[\d,]+ tokens\) can never fit the queue of gpt-4o-mini: .*the provider allows 100 enqueued tokens/,
    );
    expect(error?.hint).toContain("batch.max_enqueued_tokens (or batch.max_requests) below 100");
    expect(run.events.filter((e) => e.type === "queue_full")).toHaveLength(1);
    expect((await emu.state()).counters.batches_created).toBe(1);
    // resuming changes nothing without smaller shards: it stops again, after one more batch
    const again = await batchpipe(["run", spec, "--json"], { cwd: dir, timeoutMs: 60_000 });
    expect(errorOf(again.events)?.code).toBe("QUEUE_TOO_SMALL");
  }, 90_000);

  it("openai: a queue other work fills: each refusal waits longer, and the 5th in a row stops the run", async () => {
    emu = await startEmulatorProcess({ timeScale: 1, latencies: { linesPerSecond: 1 } });
    // another run of the organisation holds the queue (20 s of work)
    const other = tempDir();
    fs.writeFileSync(path.join(other, "data.jsonl"), records(20));
    const filler = startBatchpipe(
      ["run", writePipeline(other, { baseUrl: emu.url, name: "other" }), "--json"],
      {
        cwd: other,
        timeoutMs: 60_000,
      },
    );
    try {
      await until(async () => ((await emu!.state()).queues["gpt-4o-mini"]?.enqueued_tokens ?? 0) > 0);
      const held = (await emu.state()).queues["gpt-4o-mini"]!.enqueued_tokens;
      // room for one such shard, not two: ours fits the limit, only not beside the other run's
      await emu.configure({ queueLimits: { "gpt-4o-mini": Math.floor(held * 1.5) } });
      const dir = tempDir();
      fs.writeFileSync(path.join(dir, "data.jsonl"), records(20));
      const spec = writePipeline(dir, { baseUrl: emu.url, batch: { poll_interval: "50ms" } });
      const run = await batchpipe(["run", spec, "--json"], { cwd: dir, timeoutMs: 30_000 });
      expect(run.code, run.stderr).toBe(1);
      expect(errorOf(run.events)?.message).toContain("refused 5 times in a row, each after a longer wait");
      expect(run.events.filter((e) => e.type === "queue_full")).toHaveLength(5);
    } finally {
      filler.child.kill("SIGKILL");
      await filler.done;
    }
  }, 90_000);

  it("anthropic: the account's queue is named, and the run stops the same way", async () => {
    emu = await startEmulatorProcess({ apiKey: KEY, timeScale: 1, anthropicQueueLimit: 5 });
    const dir = tempDir();
    writeAnthropicPipeline(dir, {
      name: "anth-never-fits",
      baseUrl: emu.origin,
      n: 20,
      // biome-ignore lint/suspicious/noTemplateCurlyInString: ${VAR} is the spec syntax
      provider: ["api_key: ${ANTHROPIC_API_KEY}"],
    });
    const run = await batchpipe(["run", "pipeline.yaml"], { cwd: dir, env, timeoutMs: 60_000 });
    expect(run.code, run.stderr).toBe(1);
    expect(run.stdout + run.stderr).toContain(
      "⏸ queue full for the account: shard 00001 waits (0 requests in flight)",
    );
    expect(run.stdout + run.stderr).toContain("(QUEUE_TOO_SMALL)");
    expect(run.stdout + run.stderr).toMatch(
      /shard 00001 \(~20 requests\) can never fit the queue of the account/,
    );
    expect(run.stdout + run.stderr).toContain(
      "batch.max_requests (or the provider's max_enqueued_requests) below 5",
    );
    expect((await anthropicState(emu)).batches).toHaveLength(0);
  }, 90_000);
});
