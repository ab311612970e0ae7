// A slow but healthy submission (a large shard's upload, a slow provider) held up the run loop: each
// turn waited for the submission it started, so the other batches were neither polled nor collected
// until it ended. With the second shard's upload (OpenAI) or create (Anthropic) taking 6 s, the
// first shard's batch, done within a second, was collected only after it (~6 s late). The
// submission now goes on beside the next turns, which poll and collect meanwhile.
import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { env as anthropicEnv, writeAnthropicPipeline } from "./support/anthropic.js";
import {
  batchpipe,
  type CliEvent,
  type EmulatorProcess,
  idCounts,
  readJsonl,
  records,
  startEmulatorProcess,
  tempDir,
  writePipeline,
} from "./support/harness.js";

let emulator: EmulatorProcess | undefined;
afterEach(async () => {
  await emulator?.close();
  emulator = undefined;
});

/** how long the second shard's submission takes */
const SLOW_MS = 6000;

describe.each(["openai", "anthropic"] as const)("a slow submission (%s)", (dialect) => {
  it("the batches already open are polled and collected while it goes on", async () => {
    // the second call of the route (the second shard's) answers SLOW_MS late; batches run at once
    const route = dialect === "openai" ? "POST /v1/files" : "POST /v1/messages/batches";
    emulator = await startEmulatorProcess({
      timeScale: 1,
      latencies: { validation: 0.05, linesPerSecond: 100, finalizing: 0.05 },
      faults: [{ route, calls: [2], kind: "delay", delayMs: SLOW_MS }],
    });
    const dir = tempDir();
    const batch = { max_requests: 5, poll_interval: "200ms" };
    let ids: string[];
    if (dialect === "openai") {
      fs.writeFileSync(path.join(dir, "data.jsonl"), records(10));
      writePipeline(dir, { baseUrl: emulator.url, batch });
      ids = Array.from({ length: 10 }, (_, i) => `r${i + 1}`);
    } else {
      ids = writeAnthropicPipeline(dir, { name: "slow-submission", baseUrl: emulator.origin, n: 10, batch });
    }
    const run = await batchpipe(["run", "pipeline.yaml", "--json"], {
      cwd: dir,
      env: { OPENAI_API_KEY: "sk-test", ...anthropicEnv },
      timeoutMs: 60_000,
    });
    expect(run.code, run.stderr).toBe(0);
    const order = run.events
      .filter((e: CliEvent) => e.type === "shard_submitted" || e.type === "shard_collected")
      .map((e: CliEvent) => `${e.type} ${e.shard}`);
    // the first shard's batch is collected while the second's submission is under way; before,
    // only after it: [submitted 1, submitted 2, collected 1, collected 2]
    expect(order).toEqual([
      "shard_submitted 00001",
      "shard_collected 00001",
      "shard_submitted 00002",
      "shard_collected 00002",
    ]);
    const rows = readJsonl<{ id: string }>(path.join(dir, "out/results.jsonl"));
    expect(ids.map((id) => idCounts(rows).get(id))).toEqual(Array(10).fill(1));
  }, 60_000);
});
