import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  batchpipe,
  type EmulatorProcess,
  readJsonl,
  SENTIMENT,
  startEmulatorProcess,
  tempDir,
  writeDataset,
  writePipeline,
} from "./support/harness.js";

describe("batchpipe run: records that fail before sending, allow_same_dataset, clean_up, max_cost", () => {
  let emulator: EmulatorProcess;
  beforeAll(async () => {
    emulator = await startEmulatorProcess({
      timeScale: 1,
      latencies: { linesPerSecond: 2000, validation: 0.02 },
    });
  });
  afterAll(async () => {
    await emulator?.close();
  });

  it("invalid lines, template errors and oversized requests become failure rows at once; a rerun takes the successes from the cache, --no-cache sends them again; files are cleaned up", async () => {
    const dir = tempDir();
    const lines: string[] = [];
    for (let i = 1; i <= 20; i++) lines.push(JSON.stringify({ id: `rec-${i}`, text: `review ${i}` }));
    lines[4] = "{not json";
    lines[9] = JSON.stringify({ id: "rec-10" });
    lines[14] = JSON.stringify({ id: "rec-15", text: "x".repeat(5000) });
    fs.writeFileSync(path.join(dir, "data.jsonl"), `${lines.join("\n")}\n`);
    const spec = writePipeline(dir, {
      ...SENTIMENT,
      name: "prefail",
      baseUrl: emulator.url,
      batch: { max_bytes: "4KB" },
    });
    const run = await batchpipe(["run", spec], { cwd: dir });
    expect(run.code, run.stderr).toBe(3);
    const errors = readJsonl<{ id: string; error: { code: string }; source: { line: number } }>(
      path.join(dir, "out/errors.jsonl"),
    );
    expect(errors.map((e) => [e.error.code, e.source.line]).sort()).toEqual([
      ["invalid_input", 5],
      ["request_too_large", 15],
      ["template_error", 10],
    ]);
    expect(readJsonl(path.join(dir, "out/results.jsonl")).length).toBe(17);
    expect(run.stdout).toMatch(/failed +3 \(/);
    // clean_up: nothing of this run is left at the provider or on disk
    const state = await emulator.state();
    expect(state.files.filter((f) => f.filename.includes("prefail"))).toEqual([]);
    const runDirs = fs.readdirSync(path.join(dir, ".batchpipe/prefail")).filter((f) => /^r\d+-/.test(f));
    expect(runDirs).toEqual([]);

    // the 17 successes come from the result cache; the 3 records that fail before sending fail again
    const again = await batchpipe(["run", spec], { cwd: dir });
    expect(again.code, again.stderr).toBe(3);
    expect(again.stdout).toMatch(/cached +17 \(/);
    expect(readJsonl(path.join(dir, "out/results.jsonl")).length).toBe(17);
    const forced = await batchpipe(["run", spec, "--no-cache"], { cwd: dir });
    expect(forced.code, forced.stderr).toBe(3);
    expect(readJsonl(path.join(dir, "out/results.jsonl")).length).toBe(17);
    // three runs now (the rerun is a run, answered from the cache): more than the default 60 s on a busy machine
  }, 180_000);

  it("max_cost: refuses to submit past the budget (BUDGET_EXCEEDED, exit 1, nothing created)", async () => {
    const dir = tempDir();
    writeDataset(dir, 100);
    const spec = writePipeline(dir, {
      ...SENTIMENT,
      name: "budget",
      baseUrl: emulator.url,
      batch: { max_cost: 0.000001 },
    });
    const before = (await emulator.state()).counters.batches_created ?? 0;
    const run = await batchpipe(["run", spec], { cwd: dir });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/BUDGET_EXCEEDED/);
    expect((await emulator.state()).counters.batches_created ?? 0).toBe(before);
  });
});

describe("reconciliation against a provider that loses, garbles and invents lines", () => {
  it("omitted and malformed lines are retried, unknown ids counted as unexpected: every record once", async () => {
    const emulator = await startEmulatorProcess({
      timeScale: 1,
      latencies: { linesPerSecond: 2000, validation: 0.02 },
      lineRules: [
        { customIds: ["rec-3", "rec-4"], oddity: "omit", attempts: 1 },
        { customIds: ["rec-7"], oddity: "malformed", attempts: 1 },
        { customIds: ["rec-9"], oddity: "unknown_id", attempts: 1 },
      ],
    });
    try {
      const dir = tempDir();
      writeDataset(dir, 30);
      const spec = writePipeline(dir, { ...SENTIMENT, name: "oddities", baseUrl: emulator.url });
      const run = await batchpipe(["run", spec, "--json"], { cwd: dir });
      expect(run.code, run.stderr).toBe(0);
      const report = (
        run.events.find((e) => e.type === "run_finished") as unknown as { report: Record<string, number> }
      ).report;
      // rec-3, rec-4 (omitted), rec-7 (its line garbled) and rec-9 (answered under another id) are missing
      expect(report).toMatchObject({
        read: 30,
        succeeded: 30,
        failed: 0,
        missing: 4,
        retried: 4,
        unaccounted: 0,
      });
      expect(report.unexpected).toBe(2);
      const ids = readJsonl<{ id: string; attempts: number }>(path.join(dir, "out/results.jsonl"));
      expect(ids.length).toBe(30);
      expect(
        ids
          .filter((r) => r.attempts === 2)
          .map((r) => r.id)
          .sort(),
      ).toEqual(["rec-3", "rec-4", "rec-7", "rec-9"]);
    } finally {
      await emulator.close();
    }
  });

  it("a batch that answers 404 to one poll is polled again, not paid for twice", async () => {
    const emulator = await startEmulatorProcess({
      timeScale: 1,
      latencies: { linesPerSecond: 50, validation: 0.02 },
      faults: [{ route: "GET /v1/batches/:id", status: 404, calls: [2] }],
    });
    try {
      const dir = tempDir();
      writeDataset(dir, 40);
      const spec = writePipeline(dir, { ...SENTIMENT, name: "vanished", baseUrl: emulator.url });
      const run = await batchpipe(["run", spec, "--json"], { cwd: dir });
      expect(run.code, run.stderr).toBe(0);
      const report = (
        run.events.find((e) => e.type === "run_finished") as unknown as { report: Record<string, number> }
      ).report;
      expect(report).toMatchObject({ read: 40, succeeded: 40, retried: 0, batches: 1 });
      expect(run.events.some((e) => e.type === "warning" && /disappeared/.test(String(e.message)))).toBe(
        false,
      );
    } finally {
      await emulator.close();
    }
  });
});
