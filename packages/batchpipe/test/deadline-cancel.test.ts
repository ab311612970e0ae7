// `batchpipe cancel` while batch.deadline's live fallback answers a shard: the calls went on to the
// shard's end (against the emulator: cancelled after 33 live calls of 300, then 267 more were sent
// and paid at live prices). Now the live pass stops taking requests once the cancel is recorded:
// the answers it has are delivered, the rest fails as batch_cancelled, every id once.
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  batchpipe,
  type EmulatorProcess,
  readJsonl,
  SENTIMENT,
  STALLED_BATCHES,
  startEmulatorProcess,
  tempDir,
  writeDataset,
  writePipeline,
} from "./support/harness.js";

let emulator: EmulatorProcess;
beforeAll(async () => {
  // batches never get anywhere; each live answer takes 200 ms
  emulator = await startEmulatorProcess({
    ...STALLED_BATCHES,
    faults: [{ route: "POST /v1/chat/completions", kind: "delay", delayMs: 200 }],
  });
});
afterAll(async () => {
  await emulator?.close();
});

const N = 400;
const ids = Array.from({ length: N }, (_, i) => `rec-${i + 1}`);
const liveCalls = async () => (await emulator.state()).calls["POST /v1/chat/completions"] ?? 0;

describe("cancel during batch.deadline's live fallback", () => {
  it("stops the live calls: what was answered is delivered, the rest fails as batch_cancelled", async () => {
    const dir = tempDir();
    writeDataset(dir, N);
    const spec = writePipeline(dir, {
      ...SENTIMENT,
      name: "deadline-cancel",
      baseUrl: emulator.url,
      // the deadline passes before any batch is created: every request goes live
      batch: { max_requests: N, deadline: "1ms" },
    });
    const before = await liveCalls();
    let cancelled: Promise<unknown> | undefined;
    const run = await batchpipe(["run", spec, "--json"], {
      cwd: dir,
      onEvent: (event) => {
        if (event.type === "warning" && String(event.message).includes("passed batch.deadline"))
          cancelled ??= batchpipe(["cancel", spec], { cwd: dir });
      },
    });
    await cancelled;
    expect(run.code, run.stderr).toBe(3);
    // the requests the live pass never sent are not results the provider lost ("missing lines")
    const report = run.events.find((e) => e.type === "run_finished")?.report as Record<string, number>;
    expect(report.missing).toBe(0);
    const sent = (await liveCalls()) - before;
    // 400 calls of 200 ms, 8 at a time, take ~10 s: the cancel (a CLI started at the deadline) lands ~1 s in
    expect(sent).toBeLessThan(N / 2);
    const ok = readJsonl<{ id: string }>(path.join(dir, "out/results.jsonl"));
    const failed = readJsonl<{ id: string; error: { code: string } }>(path.join(dir, "out/errors.jsonl"));
    expect(ok.length).toBeGreaterThan(0);
    expect(ok.length).toBeLessThanOrEqual(sent);
    expect(new Set(failed.map((f) => f.error.code))).toEqual(new Set(["batch_cancelled"]));
    expect([...ok, ...failed].map((r) => r.id).sort()).toEqual([...ids].sort());
  }, 90_000);
});
