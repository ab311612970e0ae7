// batch.max_outage is a promise about time: a provider failing for that long stops the run (state
// saved, resumable). The run loop checked it between provider calls, but one call, with the
// provider's own retries inside it, could run long past it: with retries of 1 s doubling to 4 s
// (8 attempts, ~20 s), a 3 s max_outage stopped the run ~20 s into an outage. The retries of a
// call the engine makes now start no wait that would end after the outage's deadline. Both
// dialects; Anthropic's through retry-after (4 s, 7 retries: ~28 s), which a retry honours. The
// live calls past batch.deadline ran on the SDKs' own retries (4, after retry-after 4 s: 16 s of a
// 3 s max_outage); they now run on the same retry loop, under the same deadline.
import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { env as anthropicEnv, anthropicState, writeAnthropicPipeline } from "./support/anthropic.js";
import {
  batchpipe,
  DIALECT_KEYS,
  type EmulatorProcess,
  expectEachOnce,
  idCounts,
  readJsonl,
  records,
  startEmulatorProcess,
  tempDir,
  writeDataset,
  writeDialectPipeline,
  writePipeline,
} from "./support/harness.js";
import { expectStoppedByOutage, SLOW_RETRIES, startIntoOutage } from "./support/outage.js";

let emulator: EmulatorProcess | undefined;
afterEach(async () => {
  await emulator?.close();
  emulator = undefined;
});

const MAX_OUTAGE_S = 3;

describe("batch.max_outage bounds the provider's own retries", () => {
  it("an outage after submission stops the run about max_outage after it began, with the outage error; a rerun resumes without paying again", async () => {
    emulator = await startEmulatorProcess({
      timeScale: 1,
      latencies: { linesPerSecond: 1, validation: 0.05 },
    });
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, "data.jsonl"), records(4));
    const spec = writePipeline(dir, {
      baseUrl: emulator.url,
      provider: SLOW_RETRIES,
      batch: { max_outage: `${MAX_OUTAGE_S}s` },
    });
    // every call from the first submission on answers 503
    const outage = startIntoOutage(emulator, ["run", spec, "--json"], [{ route: "*", status: 503 }], {
      cwd: dir,
    });
    const first = await outage.done;
    // before: 17-23 s
    expectStoppedByOutage(first, { since: outage.outageAt(), maxOutageS: MAX_OUTAGE_S });
    expect(first.stderr).toMatch(/HTTP 503/);

    await emulator.configure({ faults: [], latencies: { linesPerSecond: 1000 } });
    const second = await batchpipe(["run", spec, "--json"], { cwd: dir, timeoutMs: 60_000 });
    expect(second.code, second.stderr).toBe(0);
    expectEachOnce(path.join(dir, "out/results.jsonl"), 4);
    expect((await emulator.state()).batches).toHaveLength(1);
  });

  it("the anthropic provider too: an overloaded API answering retry-after 4 s stops the run about max_outage after the outage began", async () => {
    emulator = await startEmulatorProcess({
      timeScale: 1,
      latencies: { linesPerSecond: 1, validation: 0.05 },
    });
    const dir = tempDir();
    const ids = writeAnthropicPipeline(dir, {
      name: "outage-deadline",
      baseUrl: emulator.origin,
      n: 4,
      provider: ["retry_attempts: 8"],
      batch: { max_outage: `${MAX_OUTAGE_S}s` },
    });
    const outage = startIntoOutage(
      emulator,
      ["run", "pipeline.yaml", "--json"],
      [{ route: "*", status: 529, retryAfter: 4 }],
      { cwd: dir, env: anthropicEnv },
    );
    const first = await outage.done;
    // before: ~28 s (7 retries after 4 s each)
    expectStoppedByOutage(first, { since: outage.outageAt(), maxOutageS: MAX_OUTAGE_S });

    await emulator.configure({ faults: [], latencies: { linesPerSecond: 1000 } });
    const second = await batchpipe(["run", "pipeline.yaml", "--json"], {
      cwd: dir,
      env: anthropicEnv,
      timeoutMs: 60_000,
    });
    expect(second.code, second.stderr).toBe(0);
    const counts = idCounts(readJsonl<{ id: string }>(path.join(dir, "out/results.jsonl")));
    expect(ids.map((id) => counts.get(id))).toEqual([1, 1, 1, 1]);
    const state = await anthropicState(emulator);
    expect(state.batches).toHaveLength(1);
    expect(state.paid_twice).toEqual([]);
  });

  it.each(["openai", "anthropic"] as const)(
    "the live API past batch.deadline (%s): its calls' retries stop at max_outage too",
    async (dialect) => {
      emulator = await startEmulatorProcess({ timeScale: 1, latencies: { validation: 0.05 } });
      const dir = tempDir();
      writeDataset(dir, 8);
      writeDialectPipeline(dir, {
        dialect,
        emulator,
        name: `live-outage-${dialect}`,
        // the deadline passes before any batch is created: every request goes live
        batch: { deadline: "1ms", max_outage: `${MAX_OUTAGE_S}s` },
      });
      const route = dialect === "openai" ? "POST /v1/chat/completions" : "POST /v1/messages";
      await emulator.configure({ faults: [{ route, status: 503, retryAfter: 4 }] });
      const env = DIALECT_KEYS;
      const startedAt = Date.now();
      const first = await batchpipe(["run", "pipeline.yaml", "--json"], { cwd: dir, env, timeoutMs: 90_000 });
      const seconds = (Date.now() - startedAt) / 1000;
      expect(first.code, first.stderr).toBe(1);
      expect(first.stderr).toMatch(/longer than batch\.max_outage \(3 s\)/);
      // the outage begins with the first live call, shortly after the start; before: ~17 s
      expect(seconds, first.stderr).toBeLessThan(MAX_OUTAGE_S + 5);

      await emulator.configure({ faults: [] });
      const second = await batchpipe(["run", "pipeline.yaml", "--json"], {
        cwd: dir,
        env,
        timeoutMs: 60_000,
      });
      expect(second.code, second.stderr).toBe(0);
      expectEachOnce(path.join(dir, "out/results.jsonl"), 8);
    },
  );
});
