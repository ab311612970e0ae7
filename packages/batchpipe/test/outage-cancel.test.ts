// batch.max_outage holds for cancels too. The cancel batch.deadline sends to its open batches went
// around providerCall: with the provider's retries of 1 s doubling to 4 s (8 attempts, ~20 s), a
// cancel failing through an outage kept the run going ~20 s past a 2 s max_outage, and the failure
// did not count toward the outage. Now a cancel's retries stop at max_outage like a poll's, and a
// cancel that fails runs the outage clock: the run stops about max_outage into the outage.
import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  batchpipe,
  type EmulatorProcess,
  idCounts,
  readJsonl,
  records,
  startBatchpipe,
  startEmulatorProcess,
  tempDir,
  writePipeline,
} from "./support/harness.js";

let emulator: EmulatorProcess | undefined;
afterEach(async () => {
  await emulator?.close();
  emulator = undefined;
});

/** the provider's retries of one call span ~17–23 s (1 + 2 + 4 × 5 s, with jitter) */
const SLOW_RETRIES = ["retry_attempts: 8", "retry_min_delay_ms: 1000", "retry_max_delay_ms: 4000"];
const MAX_OUTAGE_S = 2;

describe("batch.max_outage bounds the deadline's cancel", () => {
  it("a cancel failing through an outage stops the run about max_outage later; a rerun cancels and answers live, each record once", async () => {
    // batches never get anywhere during the test
    emulator = await startEmulatorProcess({
      timeScale: 1,
      latencies: { linesPerSecond: 0.001, validation: 0.05 },
    });
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, "data.jsonl"), records(4));
    const spec = writePipeline(dir, {
      baseUrl: emulator.url,
      provider: SLOW_RETRIES,
      // no poll before the deadline: the cancel is the first call the outage meets
      batch: { max_outage: `${MAX_OUTAGE_S}s`, deadline: "3s", poll_interval: "5s", max_attempts: 1 },
    });
    let deadlineAt = 0;
    const child = startBatchpipe(["run", spec, "--json"], {
      cwd: dir,
      timeoutMs: 90_000,
      onEvent: (event) => {
        // every call from now on answers 503
        if (event.type === "shard_submitted")
          void emulator!.configure({ faults: [{ route: "*", status: 503 }] });
        if (event.type === "warning" && String(event.message).includes("passed batch.deadline"))
          deadlineAt ||= Date.now();
      },
    });
    const first = await child.done;
    const seconds = (Date.now() - deadlineAt) / 1000;
    expect(first.code, first.stderr).toBe(1);
    expect(deadlineAt).toBeGreaterThan(0);
    expect(first.stderr).toMatch(/longer than batch\.max_outage \(2 s\)/);
    expect(first.stderr).toContain("PROVIDER_UNREACHABLE");
    expect(
      first.events.some((e) => e.type === "warning" && /could not cancel batch/.test(String(e.message))),
    ).toBe(true);
    // max_outage plus a turn of the loop and a loaded machine's slack; before: 20-25 s
    expect(seconds, first.stderr).toBeLessThan(MAX_OUTAGE_S + 4);

    await emulator.configure({ faults: [] });
    const second = await batchpipe(["run", spec, "--json"], { cwd: dir, timeoutMs: 60_000 });
    expect(second.code, second.stderr).toBe(0);
    const rows = readJsonl<{ id: string; batch_id: string }>(path.join(dir, "out/results.jsonl"));
    expect([...idCounts(rows).values()]).toEqual([1, 1, 1, 1]);
    expect(rows.every((r) => r.batch_id === "live")).toBe(true);
    const state = await emulator.state();
    expect(state.batches).toHaveLength(1);
  });
});
