/**
 * The run's progress for displays: where its requests are (delivered, finished at the provider,
 * running there, not yet submitted), outcomes so far, and an ETA from the recent pace of real
 * work (the provider's own per-request counts where it reports them, and deliveries).
 */
import type { LoopContext } from "./loop-context.js";
import type { ProgressSnapshot } from "./types.js";

/** how far back the pace is measured */
const WINDOW_MS = 60_000;

export class ProgressTracker {
  private readonly samples: { at: number; progressed: number }[] = [];

  /** records read (so far, while the read runs beside the loop) */
  total: number;
  reading = false;

  constructor(private readonly o: { startedAt: number; total: number }) {
    this.total = o.total;
  }

  snapshot(
    ctx: LoopContext,
    /** per open batch: the provider's request counts */
    inFlight: Iterable<{ total: number; completed: number; failed: number; processing?: number }>,
  ): ProgressSnapshot {
    const shards: ProgressSnapshot["shards"] = {};
    let submitted = 0;
    let finished = 0;
    for (const s of ctx.shards.values()) {
      shards[s.status] = (shards[s.status] ?? 0) + 1;
      if (s.status === "open" || s.status === "submitting" || s.status === "ended") submitted += s.requests;
      if (s.status === "ended") finished += s.requests;
    }
    const counts = { completed: 0, failed: 0, total: 0, processing: 0 };
    for (const c of inFlight) {
      counts.completed += c.completed;
      counts.failed += c.failed;
      counts.total += c.total;
      counts.processing += c.processing ?? 0;
    }
    finished += counts.completed + counts.failed;
    const { counters } = ctx;
    const done = counters.succeeded + counters.failed;
    const now = Date.now();
    // a request is two steps of work: finished at the provider, then delivered
    const eta = this.eta(now, 2 * done + finished, 2 * this.total);
    return {
      run: ctx.runId,
      shards,
      done,
      total: this.total,
      reading: this.reading,
      submitted,
      finished,
      succeeded: counters.succeeded,
      failed: counters.failed,
      inputTokens: counters.inputTokens,
      outputTokens: counters.outputTokens,
      cost: counters.cost,
      inFlight: counts,
      // the work left is unknown while the source is read
      eta: this.reading ? null : eta,
      elapsedMs: now - this.o.startedAt,
    };
  }

  /** the work left over the pace of the last minute; null until something moved */
  private eta(now: number, progressed: number, total: number): number | null {
    this.samples.push({ at: now, progressed });
    while (this.samples.length > 2 && this.samples[0]!.at < now - WINDOW_MS) this.samples.shift();
    if (progressed >= total) return 0;
    const first = this.samples[0]!;
    const moved = progressed - first.progressed;
    const ms = now - first.at;
    if (moved <= 0 || ms < 500) return null;
    return Math.round(((total - progressed) * ms) / moved);
  }
}
