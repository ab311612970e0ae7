// An outage of the live API past batch.deadline is an outage, not the records' failure. The
// calls that got no answer at all (the SDK's own retries spent) were written as connection_error
// failures: with max_attempts 1 the run "finished with 8 failed requests" (exit 3), and with more
// attempts an outage of a few minutes failed every record (120 of 120 against the emulator). Now
// the shard's unanswered requests wait (backing off as for any provider call, up to
// batch.max_outage, then the run stops with its state saved) and are sent again once the API
// answers: every record succeeds, none is paid twice. Both dialects.
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  batchpipe,
  DIALECT_KEYS,
  type EmulatorProcess,
  readJsonl,
  STALLED_BATCHES,
  startEmulatorProcess,
  tempDir,
  writeDataset,
  writeDialectPipeline,
} from "./support/harness.js";

let emulator: EmulatorProcess;
beforeAll(async () => {
  emulator = await startEmulatorProcess(STALLED_BATCHES);
});
afterAll(async () => {
  await emulator?.close();
});

const N = 30;
const ids = Array.from({ length: N }, (_, i) => `rec-${i + 1}`);
const ROUTE = { openai: "POST /v1/chat/completions", anthropic: "POST /v1/messages" } as const;

describe.each(["openai", "anthropic"] as const)("the live API down past batch.deadline (%s)", (dialect) => {
  it("the unanswered requests wait for it and are sent again: every record succeeds", async () => {
    const dir = tempDir();
    writeDataset(dir, N);
    const route = ROUTE[dialect];
    const before = (await emulator.state()).calls[route] ?? 0;
    // the first 40 live calls get no answer: 8 calls in flight, each with the SDK's 4 retries
    const calls = Array.from({ length: 40 }, (_, i) => before + i + 1);
    await emulator.configure({ faults: [{ route, calls, kind: "reset" }] });
    const spec = writeDialectPipeline(dir, {
      dialect,
      emulator,
      name: `outage-${dialect}`,
      // the deadline passes before any batch is created: every request goes live, once (max_attempts 1)
      batch: { max_requests: 30, deadline: "1ms", max_attempts: 1 },
      errors: true,
    });
    const run = await batchpipe(["run", spec, "--json"], { cwd: dir, env: DIALECT_KEYS });
    await emulator.configure({ faults: [] });
    expect(run.code, run.stderr).toBe(0);
    const rows = readJsonl<{ id: string; batch_id: string }>(path.join(dir, "out/results.jsonl"));
    expect(rows.map((r) => r.id).sort()).toEqual([...ids].sort());
    expect(fs.readFileSync(path.join(dir, "out/errors.jsonl"), "utf8")).toBe("");
    // answered once each: the calls that got no answer, and one that did per request
    expect((await emulator.state()).calls[route]! - before).toBe(40 + N);
  }, 120_000);
});
