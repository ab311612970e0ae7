// The run's progress as people see it: on a terminal one bar per run whose segments follow real
// work (█ delivered, ▓ finished at the provider, ▒ running there, ░ not submitted), an ETA once
// something moved, the cost so far and correct plurals; plain lines when not a terminal.
import type { ProgressSnapshot } from "@batchpipe/core";
import { describe, expect, it } from "vitest";
import { createProgressRenderer, renderReport } from "../src/commands/run-output.js";

function stream(tty: boolean) {
  const chunks: string[] = [];
  return {
    chunks,
    io: {
      stdout: { write: () => true, isTTY: tty },
      stderr: {
        write: (text: string) => {
          chunks.push(text);
          return true;
        },
        isTTY: tty,
      },
    } as unknown as Parameters<typeof createProgressRenderer>[0],
  };
}

const snapshot = (over: Partial<ProgressSnapshot>): ProgressSnapshot => ({
  run: "r1",
  shards: {},
  done: 0,
  total: 300,
  reading: false,
  submitted: 0,
  finished: 0,
  succeeded: 0,
  failed: 0,
  inputTokens: 0,
  outputTokens: 0,
  cost: 0,
  inFlight: { total: 0, completed: 0, failed: 0 },
  eta: null,
  elapsedMs: 1000,
  ...over,
});

describe("progress output", () => {
  it("a terminal gets a bar whose segments follow delivered, finished, running and waiting work", () => {
    const { io, chunks } = stream(true);
    const renderer = createProgressRenderer(io, { tty: true });
    renderer.onEvent({
      type: "progress",
      snapshot: snapshot({
        shards: { collected: 1, open: 1, pending: 1 },
        done: 100,
        submitted: 100,
        finished: 40,
        succeeded: 99,
        failed: 1,
        inputTokens: 1234,
        outputTokens: 56,
        cost: 0.0123,
        eta: 65_000,
        elapsedMs: 12_000,
      }),
    });
    renderer.stop();
    const text = chunks.join("");
    expect(text).toContain(
      `  ${"█".repeat(10)}${"▓".repeat(4)}${"▒".repeat(6)}${"░".repeat(10)} 33% · 100/300 delivered · 40 finished at the provider · 60 running in 1 batch · 1 shard waiting\n`,
    );
    expect(text).toContain(
      "  ok 99 · failed 1 · tokens 1,234 in / 56 out · cost $0.01 · elapsed 12s · ETA 1m05s\n",
    );
  });

  it("plurals follow the counts; no ETA until something moved", () => {
    const { io, chunks } = stream(true);
    const renderer = createProgressRenderer(io, { tty: true });
    renderer.onEvent({
      type: "planned",
      run: "r1",
      totals: {
        read: 1,
        invalid: 0,
        rejected: 0,
        requests: 1,
        identical: 0,
        shards: 1,
        estimatedInputTokens: 10,
        estimatedOutputTokens: 1,
        estimatedCost: 0,
      },
      shards: [],
    });
    renderer.onEvent({
      type: "progress",
      snapshot: snapshot({ total: 1, shards: { open: 2, queued: 2 }, submitted: 1 }),
    });
    renderer.stop();
    const text = chunks.join("");
    expect(text).toContain("  read 1 record → 1 request in 1 shard");
    expect(text).toContain("1 running in 2 batches · 2 shards waiting\n");
    expect(text).not.toContain("ETA");
  });

  it("reading shows the records read; not a terminal: plain lines, at most one per interval", () => {
    const { io, chunks } = stream(false);
    const renderer = createProgressRenderer(io, { tty: false, plainEveryMs: 60_000 });
    // a snapshot before anything was read is not shown (it said "0/0 read so far delivered")
    renderer.onEvent({ type: "progress", snapshot: snapshot({ total: 0, reading: true }) });
    renderer.onEvent({ type: "read_progress", run: "r1", records: 120_000 });
    renderer.onEvent({ type: "progress", snapshot: snapshot({ done: 10 }) });
    renderer.onEvent({ type: "progress", snapshot: snapshot({ done: 20 }) });
    renderer.stop();
    expect(chunks).toEqual(["  reading… 120,000 records\n"]);
    const { io: io2, chunks: chunks2 } = stream(false);
    const plain = createProgressRenderer(io2, { tty: false, plainEveryMs: 0 });
    plain.onEvent({ type: "progress", snapshot: snapshot({ done: 10 }) });
    plain.stop();
    expect(chunks2).toHaveLength(1);
    expect(chunks2[0]).toMatch(/^ {2}█░+ 3% · 10\/300 delivered \| ok 0 · failed 0 · .*\n$/);
    expect(chunks2[0]).not.toContain("\u001b[");
  });

  it("the report's counts take their plurals (one shard, one queue refusal)", () => {
    const report = {
      run: "r2",
      name: "demo",
      status: "completed",
      read: 3000,
      succeeded: 3000,
      failed: 0,
      failedByCode: {},
      retried: 0,
      unexpected: 0,
      missing: 0,
      unaccounted: 0,
      identical: 0,
      cached: 2990,
      cachedRequests: 1,
      cachedSaved: 0.02,
      answeredLive: 0,
      cut: 0,
      cutByReason: {},
      batches: 2,
      queueRefusals: 1,
      shards: 1,
      inputTokens: 407,
      outputTokens: 67,
      cost: 0.0001,
      estimatedCost: 0.0001,
      durationMs: 700,
    } satisfies Parameters<typeof renderReport>[0];
    const text = renderReport(report);
    expect(text).toContain("  batches          2 (1 shard, 1 queue refusal)\n");
    expect(text).toContain("1 request not sent");
    expect(renderReport({ ...report, shards: 3, queueRefusals: 0 })).toContain(
      "2 (3 shards, 0 queue refusals)",
    );
  });
});
