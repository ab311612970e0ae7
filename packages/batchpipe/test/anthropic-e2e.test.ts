/**
 * Anthropic's Message Batches end to end: the real CLI in a child process, the anthropic provider
 * (official @anthropic-ai/sdk) and the emulator's Anthropic side over loopback HTTP.
 */
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { anthropicState, env, KEY, MODELS, reportOf, writeAnthropicPipeline } from "./support/anthropic.js";
import {
  batchpipe,
  type EmulatorProcess,
  exactlyOnceInSinks,
  filesContaining,
  ONCE,
  readJsonl,
  startEmulatorProcess,
  tempDir,
} from "./support/harness.js";

describe("anthropic provider (real CLI, emulator over HTTP)", () => {
  let emu: EmulatorProcess;
  beforeAll(async () => {
    emu = await startEmulatorProcess({ apiKey: KEY, timeScale: 1, latencies: { linesPerSecond: 20_000 } });
  });
  afterAll(async () => {
    await emu?.close();
  });

  it("20,000 records whose ids do not fit custom_id, max_requests 4000: 5 batches, every id once in both sinks with its own id", async () => {
    const dir = tempDir();
    const ids = writeAnthropicPipeline(dir, {
      name: "anth-ids",
      baseUrl: emu.origin,
      n: 20_000,
      batch: { max_requests: 4000 },
      // biome-ignore lint/suspicious/noTemplateCurlyInString: ${VAR} is the spec syntax
      provider: ["api_key: ${ANTHROPIC_API_KEY}"],
    });
    const before = (await anthropicState(emu)).batches.length;
    const plan = await batchpipe(["plan", "pipeline.yaml"], { cwd: dir, env });
    expect(plan.code, plan.stderr).toBe(0);
    expect(plan.stdout).toMatch(/estimated cost\s+\$\d/);
    // shards that mix models are priced too (by the run's average per request), not "?"
    expect(plan.stdout).toMatch(/^ {2}00001 .*\$\d/m);
    expect(plan.stdout).not.toMatch(/ \?$/m);
    const run = await batchpipe(["run", "pipeline.yaml", "--json"], { cwd: dir, env, timeoutMs: 300_000 });
    expect(run.code, run.stderr).toBe(0);
    const state = await anthropicState(emu);
    expect(state.batches.length - before).toBe(5);
    expect(exactlyOnceInSinks(dir, ids)).toEqual(ONCE);
    const rows = readJsonl<{ id: string; output: string; usage: Record<string, number>; model: string }>(
      path.join(dir, "out/results.jsonl"),
    );
    expect(rows[0]).toMatchObject({ output: expect.any(String), model: expect.stringContaining("claude") });
    // one batch mixes models; each row is priced by the model that answered
    expect(new Set(rows.map((r) => r.model))).toEqual(new Set(MODELS));
    expect(rows[0]!.usage).toMatchObject({ input_tokens: expect.any(Number), cached_tokens: 0 });
    const report = reportOf(run.events);
    expect(report).toMatchObject({ succeeded: 20_000, failed: 0 });
    expect(report?.cost).toBeGreaterThan(0);
    // the key is never stored, logged or printed
    expect(filesContaining(dir, KEY)).toEqual([]);
    expect(run.stdout + run.stderr).not.toContain(KEY);
    expect(state.paid_twice).toEqual([]);
    expect(state.params_paid_twice).toEqual([]);
    console.log(`20,000 records: plan ${plan.ms} ms, run ${run.ms} ms, cost $${report?.cost}`);
  }, 300_000);

  it("a queue that fits two batches: the run waits instead of failing, every id once; max_enqueued_requests avoids the refusals", async () => {
    const queued = await startEmulatorProcess({
      apiKey: KEY,
      timeScale: 1,
      anthropicQueueLimit: 600,
      // 6 s a batch: the shards are all read before the first batch ends
      latencies: { linesPerSecond: 50 },
    });
    try {
      for (const [name, provider] of [
        ["anth-queue", []],
        ["anth-queue-set", ["max_enqueued_requests: 600"]],
      ] as const) {
        const dir = tempDir();
        const ids = writeAnthropicPipeline(dir, {
          name,
          baseUrl: queued.origin,
          n: 1500,
          batch: { max_requests: 300 },
          provider: [...provider],
        });
        const run = await batchpipe(["run", "pipeline.yaml", "--json"], {
          cwd: dir,
          env,
          timeoutMs: 120_000,
        });
        expect(run.code, run.stderr).toBe(0);
        expect(exactlyOnceInSinks(dir, ids)).toEqual(ONCE);
        const refusals = run.events.filter((e) => e.type === "queue_full").length;
        expect(reportOf(run.events)).toMatchObject({ succeeded: 1500, failed: 0, queueRefusals: refusals });
        // progress while batches run: Anthropic counts only requests processing
        const processing = run.events.filter(
          (e) =>
            e.type === "progress" &&
            (e.snapshot as { inFlight: { processing?: number } }).inFlight.processing,
        );
        expect(processing.length).toBeGreaterThan(0);
        console.log(`${name}: ${refusals} queue refusals, ${run.ms} ms`);
        if (provider.length === 0) {
          expect(refusals).toBeGreaterThan(0);
          expect(run.events.find((e) => e.type === "queue_full")).toMatchObject({ unit: "requests" });
        } else expect(refusals).toBe(0);
      }
      const state = await anthropicState(queued);
      expect(state.paid_twice).toEqual([]);
      expect(state.params_paid_twice).toEqual([]);
    } finally {
      await queued.close();
    }
  }, 240_000);

  it("errored invalid_request ids land in errors once with their code; expired ones succeed on retry", async () => {
    const faulty = await startEmulatorProcess({
      apiKey: KEY,
      seed: 5,
      timeScale: 1,
      // each batch runs 700 requests, the rest expire; 4 % of executions are refused as too long
      expireAfterLines: 700,
      lineRules: [{ rate: 0.04, error: "context_length_exceeded" }],
      latencies: { linesPerSecond: 5000 },
    });
    try {
      const dir = tempDir();
      const ids = writeAnthropicPipeline(dir, {
        name: "anth-errors",
        baseUrl: faulty.origin,
        n: 3000,
        batch: { max_requests: 1000, max_attempts: 3 },
      });
      const run = await batchpipe(["run", "pipeline.yaml", "--json"], { cwd: dir, env, timeoutMs: 120_000 });
      expect(run.code, run.stderr).toBe(3);
      const errors = readJsonl<{ id: string; error: { code: string; status_code: number } }>(
        path.join(dir, "out/errors.jsonl"),
      );
      const results = readJsonl<{ id: string }>(path.join(dir, "out/results.jsonl"));
      const errorIds = errors.map((e) => e.id);
      expect(new Set(errorIds).size).toBe(errorIds.length);
      expect(errors.length).toBeGreaterThan(0);
      expect(new Set(errors.map((e) => `${e.error.code} ${e.error.status_code}`))).toEqual(
        new Set(["invalid_request_error 400"]),
      );
      // every id once: a success or a failure, never both
      const all = [...results.map((r) => r.id), ...errorIds].sort();
      expect(all).toEqual([...ids].sort());
      const report = reportOf(run.events) as { retried: number; failedByCode: Record<string, number> };
      expect(report.failedByCode).toEqual({ invalid_request_error: errors.length });
      expect(report.retried).toBeGreaterThan(0);
      const state = await anthropicState(faulty);
      // the expired requests ran again in retry batches (3 first batches, then retries)
      expect(state.batches.length).toBeGreaterThan(3);
      expect(state.batches.some((b) => (b.request_counts.expired ?? 0) > 0)).toBe(true);
      expect(state.paid_twice).toEqual([]);
      expect(state.params_paid_twice).toEqual([]);
      expect(Object.values(state.paid).reduce((a, b) => a + b, 0)).toBe(results.length);
      console.log(
        `errors: ${errors.length} invalid_request_error, ${report.retried} retried, ${state.batches.length} batches`,
      );
    } finally {
      await faulty.close();
    }
  }, 240_000);
});
