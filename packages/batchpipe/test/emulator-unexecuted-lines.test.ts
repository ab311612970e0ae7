// A batch that ends cancelled or expired has an error-file line for every request it never executed
// (OpenAI: `response: null`, `error.code` batch_cancelled / batch_expired). The emulator left them
// out when the batch was cancelled while validating: batchpipe then counted every request of the
// batch as a "missing line" (a result the provider lost), 400 of 400 here. The expiry cases were
// right already (they pass before the fix too) and guard the same promise.
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  batchpipe,
  type EmulatorProcess,
  readJsonl,
  report,
  SENTIMENT,
  startEmulatorProcess,
  tempDir,
  writeDataset,
  writePipeline,
} from "./support/harness.js";

const N = 400;
const ids = Array.from({ length: N }, (_, i) => `rec-${i + 1}`);

let emulator: EmulatorProcess | undefined;
afterEach(async () => {
  await emulator?.close();
  emulator = undefined;
});

describe("requests a batch never executed are in its error file (batchpipe's report: 0 missing)", () => {
  it("cancelled while validating: every request fails as batch_cancelled, none missing", async () => {
    // validation takes 60 s: the cancel lands while the batch validates
    emulator = await startEmulatorProcess({ timeScale: 1, latencies: { validation: 60 } });
    const dir = tempDir();
    writeDataset(dir, N);
    const spec = writePipeline(dir, { ...SENTIMENT, name: "cancel-validating", baseUrl: emulator.url });
    let cancelled: Promise<Awaited<ReturnType<typeof batchpipe>>> | undefined;
    const run = await batchpipe(["run", spec, "--json"], {
      cwd: dir,
      onEvent: (event) => {
        if (event.type === "shard_submitted") cancelled ??= batchpipe(["cancel", spec], { cwd: dir });
      },
    });
    expect((await cancelled!).code).toBe(0);
    expect(run.code, run.stderr).toBe(3);
    const batch = (await emulator.state()).batches[0]!;
    expect(batch.status).toBe("cancelled");
    expect(batch.request_counts).toEqual({ total: N, completed: 0, failed: N });
    expect(report(run)).toMatchObject({
      status: "cancelled",
      missing: 0,
      failedByCode: { batch_cancelled: N },
    });
    const failed = readJsonl<{ id: string; error: { code: string } }>(path.join(dir, "out/errors.jsonl"));
    expect(new Set(failed.map((f) => f.error.code))).toEqual(new Set(["batch_cancelled"]));
    expect(failed.map((f) => f.id).sort()).toEqual([...ids].sort());
  }, 90_000);

  it("expired while validating: the requests are retried in a new batch and succeed, none missing", async () => {
    // 24 h pass in 2.4 s and validation takes 30 virtual hours: the first batch expires before it runs
    emulator = await startEmulatorProcess({
      timeScale: 36_000,
      latencies: { validation: 30 * 3600, linesPerSecond: 1_000_000 },
    });
    const dir = tempDir();
    writeDataset(dir, N);
    const spec = writePipeline(dir, {
      ...SENTIMENT,
      name: "expire-validating",
      baseUrl: emulator.url,
      batch: { max_attempts: 2 },
    });
    let configured: Promise<void> | undefined;
    const run = await batchpipe(["run", spec, "--json"], {
      cwd: dir,
      onEvent: (event) => {
        // the retry batch validates quickly
        if (event.type === "shard_submitted")
          configured ??= emulator!.configure({ latencies: { validation: 1 } });
      },
    });
    await configured;
    expect(run.code, run.stderr).toBe(0);
    const batches = (await emulator.state()).batches.sort((a, b) => a.id.localeCompare(b.id));
    const first = batches.find((b) => b.status === "expired");
    expect(first?.request_counts).toEqual({ total: N, completed: 0, failed: N });
    expect(report(run)).toMatchObject({ missing: 0, succeeded: N, retried: N });
    const ok = readJsonl<{ id: string; attempts: number }>(path.join(dir, "out/results.jsonl"));
    expect(ok.map((r) => r.id).sort()).toEqual([...ids].sort());
    expect(ok.every((r) => r.attempts === 2)).toBe(true);
  }, 90_000);

  it("expired while running: the executed requests succeed, the rest are retried, none missing", async () => {
    emulator = await startEmulatorProcess({ expireAfterLines: 150 });
    const dir = tempDir();
    writeDataset(dir, N);
    const spec = writePipeline(dir, {
      ...SENTIMENT,
      name: "expire-running",
      baseUrl: emulator.url,
      batch: { max_attempts: 3 },
    });
    const run = await batchpipe(["run", spec, "--json"], { cwd: dir });
    expect(run.code, run.stderr).toBe(0);
    expect(report(run)).toMatchObject({ missing: 0, succeeded: N, retried: 250 + 100 });
  }, 90_000);
});
