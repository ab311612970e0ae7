import fs from "node:fs";
import path from "node:path";
import { estimateRequestTokens as emulatorTokens } from "@batchpipe/openai-emulator";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  batchpipe,
  duplicateSubmissions,
  type EmulatorProcess,
  exactlyOnceInSinks,
  ONCE,
  readJsonl,
  SENTIMENT,
  startEmulatorProcess,
  tempDir,
  writeDataset,
  writePipeline,
} from "./support/harness.js";

interface Report {
  read: number;
  succeeded: number;
  failed: number;
  failedByCode: Record<string, number>;
  retried: number;
  queueRefusals: number;
  unaccounted: number;
}

const reportOf = (events: { type: string }[]) =>
  (events.find((e) => e.type === "run_finished") as unknown as { report: Report }).report;

const ids = (n: number) => Array.from({ length: n }, (_, i) => `rec-${i + 1}`);

function expectEveryIdOnce(dir: string, expected: string[]) {
  expect(exactlyOnceInSinks(dir, expected)).toEqual(ONCE);
}

describe("the provider's enqueued-token queue (real CLI, emulator over HTTP)", () => {
  let emulator: EmulatorProcess;
  beforeAll(async () => {
    emulator = await startEmulatorProcess({
      timeScale: 1,
      latencies: { linesPerSecond: 200, validation: 0.05 },
    });
  });
  afterAll(async () => {
    await emulator?.close();
  });

  it("a queue that fits two shards: refused batches wait and are resubmitted; with max_enqueued_tokens none is refused", async () => {
    const n = 1200;
    const perShard = 200;
    // the emulator's own estimate of one shard, to size its queue to two shards (not three)
    const dataDir = tempDir();
    const data = writeDataset(dataDir, n);
    const first = fs.readFileSync(data, "utf8").split("\n")[0]!;
    const text = (JSON.parse(first) as { text: string }).text;
    const perRequest = emulatorTokens("/v1/chat/completions", {
      model: "gpt-4o-mini",
      messages: [{ role: "user", content: `Sentiment of: ${text}` }],
    });
    const limit = Math.floor(perRequest * perShard * 2.5);
    await emulator.configure({ queueLimits: { "gpt-4o-mini": limit } });

    // 1. no max_enqueued_tokens: every shard is tried, the queue refuses some
    const dir1 = tempDir();
    writeDataset(dir1, n);
    const spec1 = writePipeline(dir1, {
      ...SENTIMENT,
      name: "queue-a",
      baseUrl: emulator.url,
      batch: { max_requests: perShard },
    });
    const before1 = (await emulator.state()).counters.token_limit_exceeded ?? 0;
    const run1 = await batchpipe(["run", spec1, "--json"], { cwd: dir1 });
    expect(run1.code, run1.stderr).toBe(0);
    const refused1 = ((await emulator.state()).counters.token_limit_exceeded ?? 0) - before1;
    const report1 = reportOf(run1.events);
    expect(report1).toMatchObject({ read: n, succeeded: n, failed: 0, retried: 0, unaccounted: 0 });
    expect(report1.queueRefusals).toBe(refused1);
    expect(refused1).toBeGreaterThan(0);
    expectEveryIdOnce(dir1, ids(n));

    // 2. max_enqueued_tokens below the queue, in batchpipe's own (higher) estimate: nothing refused
    const dir2 = tempDir();
    writeDataset(dir2, n);
    const plan = await batchpipe(
      [
        "plan",
        writePipeline(dir2, {
          ...SENTIMENT,
          name: "queue-b",
          baseUrl: emulator.url,
          batch: { max_requests: perShard },
        }),
        "--json",
      ],
      { cwd: dir2 },
    );
    const ours = (JSON.parse(plan.stdout) as { shards: { inputTokens: number }[] }).shards[0]!.inputTokens;
    const budget = Math.floor(ours * 2.2);
    expect(ours).toBeGreaterThanOrEqual(perRequest * perShard * 0.9);
    const spec2 = writePipeline(dir2, {
      ...SENTIMENT,
      name: "queue-b",
      baseUrl: emulator.url,
      batch: { max_requests: perShard, max_enqueued_tokens: budget },
    });
    const before2 = (await emulator.state()).counters.token_limit_exceeded ?? 0;
    const run2 = await batchpipe(["run", spec2, "--json"], { cwd: dir2 });
    expect(run2.code, run2.stderr).toBe(0);
    expect(((await emulator.state()).counters.token_limit_exceeded ?? 0) - before2).toBe(0);
    expect(reportOf(run2.events)).toMatchObject({ read: n, succeeded: n, queueRefusals: 0 });
    expectEveryIdOnce(dir2, ids(n));
    console.log(
      `queue: limit ${limit} emulator tokens (≈${perRequest * perShard}/shard); without budget ${refused1} refusals; with budget ${budget} (ours ${ours}/shard) 0`,
    );
  }, 180_000);

  it("a queue refusal answered synchronously (400 token_limit_exceeded at create) also waits and resubmits", async () => {
    const n = 600;
    const perShard = 200;
    await emulator.configure({ failFastTokenLimit: true, queueLimits: { "gpt-4o-mini": 5000 } });
    try {
      const dir = tempDir();
      writeDataset(dir, n);
      const spec = writePipeline(dir, {
        ...SENTIMENT,
        name: "failfast",
        baseUrl: emulator.url,
        batch: { max_requests: perShard },
      });
      const run = await batchpipe(["run", spec, "--json"], { cwd: dir });
      expect(run.code, run.stderr).toBe(0);
      const report = reportOf(run.events);
      expect(report).toMatchObject({ read: n, succeeded: n, failed: 0, retried: 0 });
      expect(report.queueRefusals).toBeGreaterThan(0);
      expect(run.events.filter((e) => e.type === "queue_full").length).toBe(report.queueRefusals);
      expectEveryIdOnce(dir, ids(n));
    } finally {
      await emulator.configure({ failFastTokenLimit: false, queueLimits: {} });
    }
  }, 120_000);

  it("expired lines succeed on retry; 10 always-failing ids end in errors after max_attempts (exit 3)", async () => {
    const failing = [
      "rec-3",
      "rec-40",
      "rec-77",
      "rec-150",
      "rec-201",
      "rec-260",
      "rec-333",
      "rec-420",
      "rec-480",
      "rec-599",
    ];
    await emulator.configure({
      queueLimits: {},
      expireAfterLines: 150,
      lineRules: [{ customIds: failing, error: "server_error" }],
    });
    try {
      const n = 600;
      const dir = tempDir();
      writeDataset(dir, n);
      const spec = writePipeline(dir, {
        ...SENTIMENT,
        name: "expiry",
        baseUrl: emulator.url,
        batch: { max_requests: 200, max_attempts: 3 },
      });
      const run = await batchpipe(["run", spec, "--json"], { cwd: dir });
      expect(run.code, run.stderr).toBe(3);
      const report = reportOf(run.events);
      expect(report).toMatchObject({
        read: n,
        succeeded: n - 10,
        failed: 10,
        failedByCode: { server_error: 10 },
        unaccounted: 0,
      });
      expect(report.retried).toBeGreaterThanOrEqual(3 * 50);
      const ok = new Set(ids(n).filter((id) => !failing.includes(id)));
      expectEveryIdOnce(dir, [...ok]);
      const results = readJsonl<{ id: string; attempts: number }>(path.join(dir, "out/results.jsonl"));
      expect(results.filter((r) => r.attempts === 2).length).toBeGreaterThanOrEqual(3 * 50 - 10);
      const errors = readJsonl<{
        id: string;
        attempts: number;
        error: { code: string; status_code: number };
      }>(path.join(dir, "out/errors.jsonl"));
      expect(errors.map((e) => e.id).sort()).toEqual([...failing].sort());
      for (const e of errors)
        expect(e).toMatchObject({ attempts: 3, error: { code: "server_error", status_code: 500 } });
    } finally {
      await emulator.configure({ expireAfterLines: null, lineRules: [] });
    }
  }, 120_000);
});

describe("a provider's batch-creation rate limit below batchpipe's own (real CLI, emulator over HTTP)", () => {
  let emulator: EmulatorProcess;
  beforeAll(async () => {
    // 2 creations per virtual hour, and an hour passes in 2 s: creations 3 to 5 get 429 with retry-after
    emulator = await startEmulatorProcess({ timeScale: 1800, creationRateLimitPerHour: 2 });
  });
  afterAll(async () => {
    await emulator?.close();
  });

  it("creates answered 429 wait as told and are made again: every id once, no batch created twice", async () => {
    const n = 500;
    const dir = tempDir();
    writeDataset(dir, n);
    const spec = writePipeline(dir, {
      ...SENTIMENT,
      name: "create-rate",
      baseUrl: emulator.url,
      batch: { max_requests: 100 },
    });
    const run = await batchpipe(["run", spec, "--json"], { cwd: dir });
    expect(run.code, run.stderr).toBe(0);
    const state = await emulator.state();
    expect(state.counters.creation_rate_limited ?? 0).toBeGreaterThan(0);
    expect(state.batches).toHaveLength(5);
    expect(duplicateSubmissions(state)).toEqual([]);
    expect(reportOf(run.events)).toMatchObject({ read: n, succeeded: n, failed: 0, unaccounted: 0 });
    expectEveryIdOnce(dir, ids(n));
  });
});
