import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  batchpipe,
  checkExactlyOnce,
  type EmulatorProcess,
  FIXTURES,
  querySqlite,
  ROOT,
  readJsonl,
  SENTIMENT,
  signalOnce,
  startEmulatorProcess,
  tempDir,
  writeDataset,
  writePipeline,
} from "./support/harness.js";

const NO_NETWORK = path.join(FIXTURES, "no-network.cjs");

function copyQuickstart(): string {
  const dir = tempDir("bp-quick-");
  for (const file of ["pipeline.yaml", "data.jsonl"]) {
    fs.copyFileSync(path.join(ROOT, "examples/quickstart", file), path.join(dir, file));
  }
  return dir;
}

describe("batchpipe plan", () => {
  it("prints shards, tokens and cost for the quickstart without any network (sockets disabled)", async () => {
    const dir = copyQuickstart();
    const result = await batchpipe(["plan", "pipeline.yaml"], {
      cwd: dir,
      env: { NODE_OPTIONS: `--require ${NO_NETWORK}` },
    });
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/200 records → 174 requests in 3 shards/);
    expect(result.stdout).toMatch(/\n {2}26 records repeat an identical request/);
    // a shard's size for people (it was "49925 bytes": the spec's size format, exact)
    expect(result.stdout).toMatch(/00001 +gpt-4o-mini +\/v1\/chat\/completions +80 +\d+\.\d KB /);
    expect(result.stdout).toMatch(/estimated input tokens +[\d,]+/);
    expect(result.stdout).toMatch(/estimated cost +\$0\.\d{4} at batch prices/);
    expect(fs.existsSync(path.join(dir, ".batchpipe"))).toBe(false);
    // the guard itself works: a run needs the (in-process) emulator's socket and fails
    const run = await batchpipe(["run", "pipeline.yaml"], {
      cwd: dir,
      env: { NODE_OPTIONS: `--require ${NO_NETWORK}` },
    });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/network used/);
    // one of each is said in the singular (it said "1 records → 1 requests")
    const data = path.join(dir, "data.jsonl");
    fs.writeFileSync(data, `${fs.readFileSync(data, "utf8").split("\n")[0]}\n`);
    const one = await batchpipe(["plan", "pipeline.yaml"], { cwd: dir });
    expect(one.stdout).toMatch(/1 record → 1 request in 1 shard\n/);
  });
});

describe("batchpipe run: usage and control (real CLI, emulator over HTTP)", () => {
  let emulator: EmulatorProcess;
  beforeAll(async () => {
    emulator = await startEmulatorProcess({
      timeScale: 1,
      latencies: { linesPerSecond: 150, validation: 0.05 },
    });
  });
  afterAll(async () => {
    await emulator?.close();
  });

  // DESIGN §3 / issue 17: with streaming submission a duplicate custom_id fails its record as
  // duplicate_id (the first occurrence wins) instead of refusing the run before any upload
  it("duplicate custom_ids: each later occurrence fails as duplicate_id with its line, the run completes (exit 3)", async () => {
    const dir = tempDir();
    writeDataset(dir, 50, { id: (i) => (i === 30 ? "rec-7" : i === 41 ? "rec-12" : `rec-${i}`) });
    const spec = writePipeline(dir, { ...SENTIMENT, name: "dups", baseUrl: emulator.url });
    const result = await batchpipe(["run", spec], { cwd: dir });
    expect(result.code, result.stderr).toBe(3);
    const errors = readJsonl<{ id: string; error: { code: string; message: string } }>(
      path.join(dir, "out/errors.jsonl"),
    );
    expect(errors.map((e) => [e.id, e.error.code])).toEqual([
      ["rec-7", "duplicate_id"],
      ["rec-12", "duplicate_id"],
    ]);
    expect(errors[0]!.error.message).toMatch(/data\.jsonl:30/);
    expect(errors[1]!.error.message).toMatch(/data\.jsonl:41/);
    // the first occurrences were sent and delivered, once
    const results = readJsonl<{ id: string }>(path.join(dir, "out/results.jsonl")).map((r) => r.id);
    expect(results).toHaveLength(48);
    expect(new Set(results).size).toBe(48);
  });

  it("a second run on the same spec while one runs: clear error, exit 1; SIGINT saves state (exit 130) and the next run resumes", async () => {
    const dir = tempDir();
    const n = 600;
    writeDataset(dir, n);
    const spec = writePipeline(dir, {
      ...SENTIMENT,
      name: "control",
      baseUrl: emulator.url,
      batch: { max_requests: 200 },
    });
    await emulator.configure({ latencies: { linesPerSecond: 20 } });
    let second: Promise<Awaited<ReturnType<typeof batchpipe>>> | undefined;
    let secondDone = false;
    const first = await batchpipe(["run", spec, "--json"], {
      cwd: dir,
      onEvent: (event, child) => {
        if (event.type === "shard_submitted" && !second) {
          second = batchpipe(["run", spec], { cwd: dir });
          second.then(() => {
            secondDone = true;
          });
        }
        if (secondDone) signalOnce(child, "SIGINT");
      },
    });
    await emulator.configure({ latencies: { linesPerSecond: 400 } });
    const concurrent = await second!;
    expect(concurrent.code).toBe(1);
    expect(concurrent.stderr).toMatch(/another batchpipe process \(pid \d+, run\) is running this pipeline/);
    expect(first.code).toBe(130);
    expect(first.stdout).toMatch(/"type":"interrupted"/);
    const resumed = await batchpipe(["run", spec], { cwd: dir });
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toMatch(/resuming run/);
    expect(resumed.stdout).toMatch(/succeeded +600/);
    const ids = readJsonl<{ id: string }>(path.join(dir, "out/results.jsonl")).map((r) => r.id);
    const expected = Array.from({ length: n }, (_, i) => `rec-${i + 1}`);
    expect(checkExactlyOnce(ids, expected)).toEqual({ missing: [], duplicated: [], extra: [] });
    const status = await batchpipe(["status", spec, "--json"], { cwd: dir });
    expect(JSON.parse(status.stdout)).toMatchObject({ run: { status: "done", counters: { succeeded: n } } });
  });

  it("cancel: open batches are cancelled, finished results delivered, the rest fails as batch_cancelled (exit 3)", async () => {
    const dir = tempDir();
    const n = 600;
    writeDataset(dir, n);
    const spec = writePipeline(dir, {
      ...SENTIMENT,
      name: "cancel",
      baseUrl: emulator.url,
      batch: { max_requests: 300 },
    });
    await emulator.configure({ latencies: { linesPerSecond: 30 } });
    let cancel: Promise<Awaited<ReturnType<typeof batchpipe>>> | undefined;
    // what the state holds of the open batches once one has done some (`view` shows it)
    let seen: { completed: number }[] | undefined;
    const run = await batchpipe(["run", spec, "--json"], {
      cwd: dir,
      onEvent: (event) => {
        if (
          event.type === "batch_status" &&
          (event as { counts?: { completed: number } }).counts!.completed > 0
        ) {
          seen ??= querySqlite<{ batch: string }>(
            path.join(dir, ".batchpipe/cancel/state.db"),
            "SELECT batch FROM shards WHERE status = 'open'",
          ).map((row) => (JSON.parse(row.batch) as { counts: { completed: number } }).counts);
          cancel ??= batchpipe(["cancel", spec], { cwd: dir });
        }
      },
    });
    // before, the batches' counts stayed as they were when created (0 of 0) until they ended
    expect(
      seen?.some((counts) => counts.completed > 0),
      JSON.stringify(seen),
    ).toBe(true);
    const cancelled = await cancel!;
    await emulator.configure({ latencies: { linesPerSecond: 400 } });
    expect(cancelled.code, cancelled.stderr).toBe(0);
    expect(cancelled.stdout).toMatch(/cancel requested; 2 open batches cancelled/);
    expect(run.code, run.stderr).toBe(3);
    const report = (
      run.events.find((e) => e.type === "run_finished") as unknown as { report: Record<string, unknown> }
    ).report;
    expect(report.status).toBe("cancelled");
    const ok = readJsonl<{ id: string }>(path.join(dir, "out/results.jsonl")).map((r) => r.id);
    const failed = readJsonl<{ id: string; error: { code: string } }>(path.join(dir, "out/errors.jsonl"));
    expect(failed.every((f) => f.error.code === "batch_cancelled")).toBe(true);
    expect(failed.length).toBeGreaterThan(0);
    const expected = Array.from({ length: n }, (_, i) => `rec-${i + 1}`);
    expect(checkExactlyOnce([...ok, ...failed.map((f) => f.id)], expected)).toEqual({
      missing: [],
      duplicated: [],
      extra: [],
    });
  });
});
