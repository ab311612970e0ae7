// batch.max_cost holds past batch.deadline too: the live fallback pays live prices (twice the batch
// price), so a run whose batch estimate fits the cap must not answer everything live beyond it. It
// answered every shard live and reported $0.0016 against max_cost $0.001 (exit 0); now it stops with
// BUDGET_EXCEEDED before the live shard that would pass the cap, and resumes once the cap is raised.
// Both dialects: OpenAI (shards of one model) and Anthropic (shards that mix models, priced by the
// run's average).
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  batchpipe,
  type Dialect,
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

const N = 60;
const ids = Array.from({ length: N }, (_, i) => `rec-${i + 1}`);

function pipeline(dir: string, dialect: Dialect, maxCost: number | null): string {
  const batch = { max_requests: 20, deadline: "1s", ...(maxCost === null ? {} : { max_cost: maxCost }) };
  return writeDialectPipeline(dir, { dialect, emulator, name: `cap-${dialect}`, batch });
}

describe.each(["openai", "anthropic"] as const)("batch.max_cost past batch.deadline (%s)", (dialect) => {
  it("the live fallback stops at the cap, and the run resumes once it is raised", async () => {
    const dir = tempDir();
    writeDataset(dir, N);
    const planned = await batchpipe(["plan", pipeline(dir, dialect, null), "--json"], { cwd: dir, env });
    const plan = JSON.parse(planned.stdout) as {
      shards: unknown[];
      totals: { estimatedCost: number };
      liveWorstCase: number;
    };
    expect(plan.shards).toHaveLength(3);
    // the batch estimate fits the cap (the run starts), answering every shard live does not
    const cap = plan.totals.estimatedCost * 1.5;
    expect(plan.liveWorstCase).toBeGreaterThan(cap);

    const spec = pipeline(dir, dialect, cap);
    const run = await batchpipe(["run", spec, "--json"], { cwd: dir, env });
    expect(run.code, run.stderr).toBe(1);
    const error = run.events.find((e) => e.type === "error") as { code?: string } | undefined;
    expect(error?.code).toBe("BUDGET_EXCEEDED");
    expect(run.events.some((e) => e.type === "budget_exceeded")).toBe(true);
    const status = JSON.parse((await batchpipe(["status", spec, "--json"], { cwd: dir, env })).stdout) as {
      run: { counters: { cost: number; succeeded: number } };
    };
    // what was paid stays under the cap; some records wait for a raised one
    expect(status.run.counters.cost).toBeLessThanOrEqual(cap);
    expect(status.run.counters.succeeded).toBeLessThan(N);

    // raised: the run resumes and answers the rest live, each id once
    const again = await batchpipe(["run", pipeline(dir, dialect, cap * 4), "--json"], { cwd: dir, env });
    expect(again.code, again.stderr).toBe(0);
    const rows = readJsonl<{ id: string; batch_id: string }>(path.join(dir, "out/results.jsonl"));
    expect(rows.map((r) => r.id).sort()).toEqual([...ids].sort());
    expect(rows.every((r) => r.batch_id === "live")).toBe(true);
  }, 90_000);
});
