// batch.deadline through the real CLI against an emulator whose batches never finish: at the
// deadline the open batches are cancelled, and every request without a result (what the cancelled
// batches left undone, and the shards still waiting for the queue) is answered through the live
// API. Every id once in each sink; the emulator shows the batches cancelled; plan shows the worst
// case at live prices.
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  batchpipe,
  type EmulatorProcess,
  exactlyOnceInSinks,
  FIXTURES,
  ONCE,
  readJsonl,
  SENTIMENT,
  STALLED_BATCHES,
  signalOnce,
  startEmulatorProcess,
  tempDir,
  writeDataset,
  writePipeline,
} from "./support/harness.js";

let emulator: EmulatorProcess;
beforeAll(async () => {
  emulator = await startEmulatorProcess(STALLED_BATCHES);
});
afterAll(async () => {
  await emulator?.close();
});

const ids = (n: number) => Array.from({ length: n }, (_, i) => `rec-${i + 1}`);
/** live calls the emulator has answered so far */
const liveCalls = async () => (await emulator.state()).calls["POST /v1/chat/completions"] ?? 0;

/** the sentiment pipeline over `n` records in a folder of its own; `provider`: a fixture plugin instead of openai */
function deadlinePipeline(
  name: string,
  n: number,
  batch: Record<string, string | number>,
  provider?: string,
) {
  const dir = tempDir();
  writeDataset(dir, n);
  const spec = writePipeline(dir, { ...SENTIMENT, name, baseUrl: emulator.url, batch });
  if (provider) {
    const plugin = path.join(FIXTURES, "plugins", provider);
    fs.writeFileSync(spec, fs.readFileSync(spec, "utf8").replace("  use: openai", `  use: ${plugin}`));
  }
  return { dir, spec };
}

describe("batch.deadline", () => {
  it("batches that never finish: cancelled at the deadline, every request answered live, every id once", async () => {
    const dir = tempDir();
    writeDataset(dir, 60);
    const base = { ...SENTIMENT, name: "deadline", baseUrl: emulator.url };
    // three shards; the local queue budget fits one, so two wait unsubmitted until the deadline
    let spec = writePipeline(dir, { ...base, batch: { max_requests: 20 } });
    const plan = JSON.parse((await batchpipe(["plan", spec, "--json"], { cwd: dir })).stdout) as {
      shards: { inputTokens: number }[];
    };
    expect(plan.shards).toHaveLength(3);
    const budget = Math.max(...plan.shards.map((s) => s.inputTokens)) + 1;
    spec = writePipeline(dir, {
      ...base,
      batch: { max_requests: 20, max_enqueued_tokens: budget, deadline: "10s" },
    });

    const planned = await batchpipe(["plan", spec], { cwd: dir });
    expect(planned.stdout).toMatch(
      /if batch\.deadline \(10s\) passes before any batch ends: up to \$0\.\d+ at live prices/,
    );

    const run = await batchpipe(["run", spec, "--json"], { cwd: dir });
    expect(run.code, JSON.stringify(run.events.find((e) => e.type === "run_finished"))).toBe(0);
    const warning = run.events.find(
      (e) => e.type === "warning" && String(e.message).includes("passed batch.deadline"),
    );
    expect(warning?.message).toMatch(/1 open batch cancelled, .*\(2 shards not submitted/);
    const report = run.events.find((e) => e.type === "run_finished")?.report as Record<string, number>;
    // the report says the cost holds live prices (it said "at batch prices" before)
    expect(report).toMatchObject({ read: 60, succeeded: 60, failed: 0, unaccounted: 0, answeredLive: 60 });
    // live prices: twice the batch price of gpt-4o-mini
    expect(report.cost).toBeCloseTo((report.inputTokens * 0.15 + report.outputTokens * 0.6) / 1e6, 10);

    expect(exactlyOnceInSinks(dir, ids(60))).toEqual(ONCE);
    const rows = readJsonl<{ id: string; batch_id: string | null }>(path.join(dir, "out/results.jsonl"));
    expect(rows.every((r) => r.batch_id === "live")).toBe(true);

    const state = await emulator.state();
    const ours = state.batches.filter((b) => b.metadata?.batchpipe_name === "deadline");
    expect(ours).toHaveLength(1);
    expect(ours[0]!.status).toBe("cancelled");
    expect(state.calls["POST /v1/chat/completions"]).toBe(60);
    // the live answers were kept until delivered, then cleaned up with the run's files
    expect(fs.existsSync(path.join(dir, ".batchpipe/deadline", report.run ? String(report.run) : ""))).toBe(
      false,
    );
  }, 90_000);

  it("SIGKILL while late work is answered live, then run again: every id once, each request sent live at most once more", async () => {
    // every request is answered live (the batches never end); the kill lands during those calls
    const { dir, spec } = deadlinePipeline("deadline-crash", 400, { max_requests: 100, deadline: "3s" });
    const before = await liveCalls();
    // each live answer takes 100 ms: 400 of them, 8 at a time, take ~5 s, so the kill lands mid-way
    await emulator.configure({
      faults: [{ route: "POST /v1/chat/completions", kind: "delay", delayMs: 100 }],
    });
    const first = await batchpipe(["run", spec, "--json"], {
      cwd: dir,
      onEvent: (event, child) => {
        if (event.type === "warning" && String(event.message).includes("passed batch.deadline"))
          signalOnce(child, "SIGKILL", 1500);
      },
    });
    await emulator.configure({ faults: [] });
    expect(first.signal).toBe("SIGKILL");
    const sentBeforeKill = (await liveCalls()) - before;
    expect(sentBeforeKill).toBeGreaterThan(0);
    expect(sentBeforeKill).toBeLessThan(400);
    const second = await batchpipe(["run", spec, "--json"], { cwd: dir });
    expect(second.code, second.stderr).toBe(0);
    expect(exactlyOnceInSinks(dir, ids(400))).toEqual(ONCE);
    // answers kept in the live files are not asked again: at most the calls in flight at the kill
    expect((await liveCalls()) - before).toBeLessThanOrEqual(400 + 8);
  }, 120_000);

  it("a live call that throws: the calls in flight beside it still keep their answers, and the run after sends each request once", async () => {
    const { dir, spec } = deadlinePipeline(
      "deadline-throw",
      40,
      { max_requests: 40, deadline: "1s" },
      "throwing-live-provider.ts",
    );
    const before = await liveCalls();
    // rec-1 is the shard's first request: its call throws while the next 7 are in flight
    const first = await batchpipe(["run", spec, "--json"], {
      cwd: dir,
      env: { BP_TEST_LIVE_THROW: "rec-1" },
    });
    expect(first.code, first.stderr).not.toBe(0);
    expect(first.stderr).toContain("the live call broke");
    const answered = await liveCalls();
    expect(answered - before).toBeGreaterThanOrEqual(7);
    const second = await batchpipe(["run", spec, "--json"], { cwd: dir });
    expect(second.code, second.stderr).toBe(0);
    expect(exactlyOnceInSinks(dir, ids(40))).toEqual(ONCE);
    // every request reached the provider once: those answered beside the failed call were kept
    expect((await liveCalls()) - before).toBe(40);
  }, 60_000);

  it("a provider without a live API refuses batch.deadline before submitting anything", async () => {
    const { dir, spec } = deadlinePipeline("deadline-nolive", 3, { deadline: "1m" }, "no-live-provider.ts");
    const before = (await emulator.state()).calls["POST /v1/batches"] ?? 0;
    const run = await batchpipe(["run", spec], { cwd: dir });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("batch.deadline is set but the provider");
    expect(run.stderr).toContain("has no live API to finish late work with");
    expect(run.stderr).not.toContain("provider provider");
    expect((await emulator.state()).calls["POST /v1/batches"] ?? 0).toBe(before);
  });
});
