/** The run's progress for displays: shards by status, outcomes so far, and an ETA. */
import type { LoopContext } from "./loop-context.js";
import type { ProgressSnapshot } from "./types.js";

export function progressSnapshot(
  ctx: LoopContext,
  o: {
    /** per open batch: the provider's request counts */
    inFlight: Iterable<{ total: number; completed: number; failed: number; processing?: number }>;
    startedAt: number;
    /** outcomes already counted when this process started (a resumed run) */
    doneAtStart: number;
    /** records read */
    total: number;
  },
): ProgressSnapshot {
  const shards: ProgressSnapshot["shards"] = {};
  for (const s of ctx.shards.values()) shards[s.status] = (shards[s.status] ?? 0) + 1;
  const inFlight = { completed: 0, failed: 0, total: 0, processing: 0 };
  for (const c of o.inFlight) {
    inFlight.completed += c.completed;
    inFlight.failed += c.failed;
    inFlight.total += c.total;
    inFlight.processing += c.processing ?? 0;
  }
  const { counters } = ctx;
  const done = counters.succeeded + counters.failed;
  const elapsedMs = Date.now() - o.startedAt;
  const progressed = done + inFlight.completed + inFlight.failed - o.doneAtStart;
  const eta =
    progressed > 0 && o.total > done ? Math.round(((o.total - done) * elapsedMs) / progressed) : null;
  return {
    run: ctx.runId,
    shards,
    done,
    total: o.total,
    succeeded: counters.succeeded,
    failed: counters.failed,
    inputTokens: counters.inputTokens,
    outputTokens: counters.outputTokens,
    cost: counters.cost,
    inFlight,
    eta,
    elapsedMs,
  };
}
