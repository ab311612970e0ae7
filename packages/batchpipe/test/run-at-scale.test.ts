import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  batchpipe,
  type EmulatorProcess,
  exactlyOnceInSinks,
  ONCE,
  SENTIMENT,
  startEmulatorProcess,
  tempDir,
  writeDataset,
  writePipeline,
} from "./support/harness.js";

const MB = 1024 * 1024;

describe("batchpipe run at scale (real CLI, emulator over HTTP)", () => {
  let emulator: EmulatorProcess;
  beforeAll(async () => {
    emulator = await startEmulatorProcess({ timeScale: 1000, latencies: { linesPerSecond: 200000 } });
  });
  afterAll(async () => {
    await emulator?.close();
  });

  it("shards 120,000 records into ≤ 1 MB batches and delivers every id exactly once to both sinks", {
    timeout: 300_000,
  }, async () => {
    const dir = tempDir();
    const n = 120_000;
    writeDataset(dir, n);
    const spec = writePipeline(dir, { ...SENTIMENT, baseUrl: emulator.url, batch: { max_bytes: "1MB" } });
    const started = Date.now();
    const result = await batchpipe(["run", spec, "--json"], { cwd: dir });
    const seconds = (Date.now() - started) / 1000;
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    const finished = result.events.find((e) => e.type === "run_finished") as unknown as {
      report: {
        read: number;
        succeeded: number;
        failed: number;
        batches: number;
        shards: number;
        unaccounted: number;
      };
    };
    expect(finished.report).toMatchObject({ read: n, succeeded: n, failed: 0, unaccounted: 0 });

    const state = await emulator.state();
    const ours = state.batches.filter((b) => b.metadata?.batchpipe_name === "e2e");
    expect(ours.length).toBeGreaterThanOrEqual(3);
    const inputs = new Map(state.files.map((f) => [f.id, f]));
    for (const b of ours) {
      expect(b.request_counts.total).toBeLessThanOrEqual(50_000);
      // clean_up deleted the files; sizes come from the planned event instead
      if (inputs.has(b.input_file_id)) expect(inputs.get(b.input_file_id)!.bytes).toBeLessThanOrEqual(MB);
    }
    const planned = result.events.find((e) => e.type === "planned") as unknown as {
      shards: { bytes: number; requests: number }[];
    };
    expect(planned.shards.length).toBe(ours.length);
    for (const s of planned.shards) expect(s.bytes).toBeLessThanOrEqual(MB);
    expect(Math.max(...planned.shards.map((s) => s.bytes))).toBeGreaterThan(0.9 * MB);

    const expected = Array.from({ length: n }, (_, i) => `rec-${i + 1}`);
    expect(exactlyOnceInSinks(dir, expected)).toEqual(ONCE);

    // with the default limits the first shard holds 6,250 requests and the next ones 12,500, a quarter
    // of the provider's cap (plan: no network)
    const planDir = tempDir();
    writeDataset(planDir, n);
    const plan = await batchpipe(
      ["plan", writePipeline(planDir, { ...SENTIMENT, baseUrl: emulator.url }), "--json"],
      {
        cwd: planDir,
      },
    );
    expect(plan.code, plan.stderr).toBe(0);
    const shards = (JSON.parse(plan.stdout) as { shards: { requests: number; bytes: number }[] }).shards;
    expect(shards.map((s) => s.requests)).toEqual([6_250, ...Array(9).fill(12_500), 1_250]);
    // max_requests set: every shard up to it, no ramp
    const fixed = await batchpipe(
      [
        "plan",
        writePipeline(planDir, { ...SENTIMENT, baseUrl: emulator.url, batch: { max_requests: 50_000 } }),
        "--json",
      ],
      { cwd: planDir },
    );
    expect(fixed.code, fixed.stderr).toBe(0);
    const fixedShards = (JSON.parse(fixed.stdout) as { shards: { requests: number }[] }).shards;
    expect(fixedShards.map((s) => s.requests)).toEqual([50_000, 50_000, 20_000]);
    console.log(
      `120k records: ${ours.length} batches of ≤ 1 MB in ${seconds.toFixed(1)} s; default limits: ${shards.length} shards`,
    );
  });

  // the read's id and request tables keep 131,072 keys in memory and the rest in files (engine/read/
  // spilled-table.ts): records 3 and 7 are on disk by the time their twins come
  it("150,000 records: a duplicate id and an identical request ~148,000 records after their first are still found", {
    timeout: 300_000,
  }, async () => {
    const dir = tempDir();
    const n = 150_000;
    const text = (i: number) => `Review number ${i}: the product is ${i % 3 === 0 ? "bad" : "good"}.`;
    writeDataset(dir, n, {
      id: (i) => (i === 149_000 ? "rec-7" : `rec-${i}`),
      text: (i) => text(i === 148_000 ? 3 : i),
    });
    const spec = writePipeline(dir, { ...SENTIMENT, name: "spilled", baseUrl: emulator.url });
    const before = (await emulator.state()).batches.length;
    const result = await batchpipe(["run", spec, "--json"], { cwd: dir });
    expect(result.code, result.stderr).toBe(3);
    const finished = result.events.find((e) => e.type === "run_finished") as unknown as {
      report: Record<string, unknown>;
    };
    expect(finished.report).toMatchObject({
      read: n,
      succeeded: n - 1,
      failed: 1,
      failedByCode: { duplicate_id: 1 },
      unaccounted: 0,
    });
    // record 148,000 is record 3's request: its twin was collected long before, so it is answered
    // from the result cache (found only because the request table found its twin: the cache was
    // empty when the run began, so other requests are not looked up there)
    expect(finished.report).toMatchObject({ identical: 0, cached: 1, cachedRequests: 1 });
    const sent = (await emulator.state()).batches
      .slice(before)
      .reduce((total, b) => total + b.request_counts.total, 0);
    expect(sent).toBe(n - 2);
    const expected = Array.from({ length: n }, (_, i) => `rec-${i + 1}`).filter((id) => id !== "rec-149000");
    expect(exactlyOnceInSinks(dir, expected)).toEqual(ONCE);
    // the tables' files went when the read ended
    const leftovers = fs
      .readdirSync(path.join(dir, ".batchpipe"), { recursive: true })
      .filter((f) => String(f).includes("read-tables"));
    expect(leftovers).toEqual([]);
  });
});
