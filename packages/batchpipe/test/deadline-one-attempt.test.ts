// batch.deadline with batch.max_attempts 1: the requests of a batch the deadline cancelled failed as
// batch_cancelled (30 of 30, exit 3), where with max_attempts 2 they went live. A request the
// deadline's cancel left undone was never executed: it spends no attempt and goes live like the
// shards never submitted, and its row counts the one attempt that ran (it showed attempts 2).
// Both dialects (OpenAI reports the undone requests as missing lines, Anthropic as canceled results).
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  batchpipe,
  type EmulatorProcess,
  DIALECT_KEYS as env,
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

describe.each(["openai", "anthropic"] as const)("batch.deadline with max_attempts 1 (%s)", (dialect) => {
  it("the batch the deadline cancels: its requests go live, every id succeeds once", async () => {
    const dir = tempDir();
    writeDataset(dir, N);
    const spec = writeDialectPipeline(dir, {
      dialect,
      emulator,
      name: `one-attempt-${dialect}`,
      // one batch, created well before the deadline, cancelled by it
      batch: { max_requests: 30, deadline: "3s", max_attempts: 1 },
      errors: true,
    });
    const run = await batchpipe(["run", spec, "--json"], { cwd: dir, env });
    const finished = run.events.find((e) => e.type === "run_finished");
    expect(run.code, JSON.stringify(finished)).toBe(0);
    const warning = run.events.find(
      (e) => e.type === "warning" && String(e.message).includes("passed batch.deadline"),
    );
    expect(warning?.message).toMatch(/1 open batch cancelled/);
    const report = finished?.report as Record<string, number>;
    expect(report).toMatchObject({ read: N, succeeded: N, failed: 0, batches: 1, answeredLive: N });
    const rows = readJsonl<{ id: string; batch_id: string; attempts: number }>(
      path.join(dir, "out/results.jsonl"),
    );
    expect(rows.map((r) => r.id).sort()).toEqual([...ids].sort());
    expect(rows.every((r) => r.batch_id === "live")).toBe(true);
    // each request ran once, live: the cancelled batch never ran it
    expect(rows.map((r) => r.attempts)).toEqual(Array(N).fill(1));
    expect(
      fs.existsSync(path.join(dir, "out/errors.jsonl")) ? readJsonl(path.join(dir, "out/errors.jsonl")) : [],
    ).toEqual([]);
  }, 60_000);
});
