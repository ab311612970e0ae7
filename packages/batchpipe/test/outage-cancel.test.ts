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
  expectEachOnce,
  readJsonl,
  records,
  STALLED_BATCHES,
  startEmulatorProcess,
  tempDir,
  writePipeline,
} from "./support/harness.js";
import { expectStoppedByOutage, SLOW_RETRIES, startIntoOutage } from "./support/outage.js";

let emulator: EmulatorProcess | undefined;
afterEach(async () => {
  await emulator?.close();
  emulator = undefined;
});

const MAX_OUTAGE_S = 2;

describe("batch.max_outage bounds the deadline's cancel", () => {
  it("a cancel failing through an outage stops the run about max_outage later; a rerun cancels and answers live, each record once", async () => {
    emulator = await startEmulatorProcess(STALLED_BATCHES);
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, "data.jsonl"), records(4));
    const spec = writePipeline(dir, {
      baseUrl: emulator.url,
      provider: SLOW_RETRIES,
      // no poll before the deadline: the cancel is the first call the outage meets
      batch: { max_outage: `${MAX_OUTAGE_S}s`, deadline: "3s", poll_interval: "5s", max_attempts: 1 },
    });
    let deadlineAt = 0;
    // every call from the first submission on answers 503
    const first = await startIntoOutage(emulator, ["run", spec, "--json"], [{ route: "*", status: 503 }], {
      cwd: dir,
      onEvent: (event) => {
        if (event.type === "warning" && String(event.message).includes("passed batch.deadline"))
          deadlineAt ||= Date.now();
      },
    }).done;
    // counted from the deadline's cancel; before: 20-25 s
    expectStoppedByOutage(first, { since: deadlineAt, maxOutageS: MAX_OUTAGE_S });
    expect(
      first.events.some((e) => e.type === "warning" && /could not cancel batch/.test(String(e.message))),
    ).toBe(true);

    await emulator.configure({ faults: [] });
    const second = await batchpipe(["run", spec, "--json"], { cwd: dir, timeoutMs: 60_000 });
    expect(second.code, second.stderr).toBe(0);
    expectEachOnce(path.join(dir, "out/results.jsonl"), 4);
    const rows = readJsonl<{ id: string; batch_id: string }>(path.join(dir, "out/results.jsonl"));
    expect(rows.every((r) => r.batch_id === "live")).toBe(true);
    const state = await emulator.state();
    expect(state.batches).toHaveLength(1);
  });
});
