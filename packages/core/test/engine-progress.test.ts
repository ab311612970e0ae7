// The run's progress snapshot: where requests are, and an ETA from the pace of the last minute
// that moves with the work (it used to be fixed by the run's start and sat still to the end).
import { afterEach, describe, expect, it, vi } from "vitest";
import { emptyCounters } from "../src/engine/counters.js";
import type { LoopContext } from "../src/engine/loop-context.js";
import { ProgressTracker } from "../src/engine/progress.js";

function context(shards: { status: string; requests: number }[], delivered: number): LoopContext {
  return {
    runId: "r1",
    shards: new Map(shards.map((s, i) => [`s${i}`, { name: `s${i}`, ...s }])),
    counters: { ...emptyCounters(), succeeded: delivered },
  } as unknown as LoopContext;
}

afterEach(() => {
  vi.useRealTimers();
});

describe("ProgressTracker", () => {
  it("counts requests at the provider and finished there; the ETA follows the recent pace", () => {
    vi.useFakeTimers();
    vi.setSystemTime(0);
    const tracker = new ProgressTracker({ startedAt: 0, total: 1000 });
    // a slow start: 10 s with nothing moving
    vi.setSystemTime(10_000);
    const first = tracker.snapshot(
      context(
        [
          { status: "open", requests: 500 },
          { status: "pending", requests: 500 },
        ],
        0,
      ),
      [["s0", { total: 500, completed: 0, failed: 0 }]],
    );
    expect(first).toMatchObject({ submitted: 500, finished: 0, done: 0, eta: null });

    // 100 requests finished at the provider: 100 of 2,000 steps in 10 s → 190 s left
    vi.setSystemTime(20_000);
    const second = tracker.snapshot(
      context(
        [
          { status: "open", requests: 500 },
          { status: "pending", requests: 500 },
        ],
        0,
      ),
      [["s0", { total: 500, completed: 90, failed: 10 }]],
    );
    expect(second).toMatchObject({ submitted: 500, finished: 100 });
    expect(second.eta).toBe(190_000);

    // the batch ended and was delivered quickly: the pace picks up and the ETA comes down
    vi.setSystemTime(30_000);
    const third = tracker.snapshot(
      context(
        [
          { status: "collected", requests: 500 },
          { status: "open", requests: 500 },
        ],
        500,
      ),
      [["s1", { total: 500, completed: 0, failed: 0 }]],
    );
    expect(third).toMatchObject({ done: 500, submitted: 500, finished: 0 });
    expect(third.eta).toBe(20_000);

    vi.setSystemTime(31_000);
    const done = tracker.snapshot(context([{ status: "collected", requests: 1000 }], 1000), []);
    expect(done.eta).toBe(0);
  });

  // a batch that ended kept its last poll's counts until collected: its requests counted twice
  // ("60 finished at the provider" for 40 submitted)
  it("an ended batch's requests count once as finished, whatever its last poll said", () => {
    const tracker = new ProgressTracker({ startedAt: 0, total: 40 });
    const snapshot = tracker.snapshot(
      context(
        [
          { status: "ended", requests: 20 },
          { status: "open", requests: 20 },
        ],
        0,
      ),
      [
        ["s0", { total: 20, completed: 15, failed: 0 }],
        ["s1", { total: 20, completed: 5, failed: 1 }],
      ],
    );
    expect(snapshot).toMatchObject({
      submitted: 40,
      finished: 26,
      inFlight: { total: 20, completed: 5, failed: 1 },
    });
  });
});
