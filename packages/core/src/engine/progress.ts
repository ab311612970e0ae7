/**
 * The run's progress for displays: where its requests are (delivered, finished at the provider,
 * running there, not yet submitted), outcomes so far, and an ETA from the recent pace of real
 * work (the provider's own per-request counts where it reports them, and deliveries).
 */
import type { LoopContext } from "./loop-context.js";
import type { ProgressSnapshot } from "./types.js";

/** how far back the pace is measured */
const WINDOW_MS = 60_000;
/** progress events come at most this often, unless forced (a shard collected, the end) */
const EMIT_EVERY_MS = 250;

/** an open batch's request counts, as its provider last reported them */
type BatchCounts = { total: number; completed: number; failed: number; processing?: number };

/**
 * A provider's counts made consistent with the shard they are about, where they enter (a poll):
 * whole numbers, completed and failed together never past the requests sent, the total between them
 * and the requests sent, processing within what is left. A provider that reports completed > total (or negative, or not numbers)
 * otherwise showed "102 finished at the provider · -82 running" for a batch of 20.
 */
export function saneCounts(counts: BatchCounts, requests: number): BatchCounts {
  const clamp = (n: unknown, max: number) =>
    typeof n === "number" && Number.isFinite(n) ? Math.min(Math.max(0, Math.floor(n)), max) : 0;
  const completed = clamp(counts.completed, requests);
  const failed = clamp(counts.failed, requests - completed);
  const total = Math.max(clamp(counts.total, requests), completed + failed);
  const sane: BatchCounts = { total, completed, failed };
  if (counts.processing !== undefined)
    sane.processing = clamp(counts.processing, requests - completed - failed);
  return sane;
}

export class ProgressTracker {
  private readonly samples: { at: number; progressed: number }[] = [];
  /** each open batch's counts, by shard name; forgotten once its shard is collected */
  private readonly inFlight = new Map<string, BatchCounts>();
  private lastEmitted = 0;

  /** records read (so far, while the read runs beside the loop) */
  total: number;
  reading = false;

  constructor(private readonly o: { startedAt: number; total: number }) {
    this.total = o.total;
  }

  /** a poll brought the batch's counts */
  batchCounts(shard: string, counts: BatchCounts): void {
    this.inFlight.set(shard, counts);
  }

  /** the shard is collected: its requests count as done, not as in flight */
  collected(shard: string): void {
    this.inFlight.delete(shard);
  }

  /** a progress event, unless one went out less than EMIT_EVERY_MS ago and `force` is false */
  emit(ctx: LoopContext, force: boolean): void {
    const now = Date.now();
    if (!force && now - this.lastEmitted < EMIT_EVERY_MS) return;
    this.lastEmitted = now;
    ctx.emit({ type: "progress", snapshot: this.snapshot(ctx, this.inFlight) });
  }

  snapshot(
    ctx: LoopContext,
    /** per shard: its batch's request counts, as the provider last reported them */
    inFlight: Iterable<[string, BatchCounts]>,
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
    for (const [shard, c] of inFlight) {
      // an ended shard's requests count as finished above, whatever its last poll said
      const status = ctx.shards.get(shard)?.status;
      if (status !== "open" && status !== "submitting") continue;
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
      cutByReason: counters.cutByReason,
      failed: counters.failed,
      inputTokens: counters.inputTokens,
      outputTokens: counters.outputTokens,
      cost: counters.cost,
      unpriced: counters.unpriced,
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
