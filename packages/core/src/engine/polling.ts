/**
 * Polling open batches: one loop for all of them, each on its own backoff (reset when its status
 * or counts move; capped), a few at a time. A batch that has not ended by its local deadline
 * (created + completion window + grace, on our clock: a provider may send no expires_at, and its
 * clock is not ours) is asked to cancel once, so what it finished can be collected; still running
 * a grace period later, it is given up as batch_stuck and its requests get a new attempt.
 *
 * A batch we created is taken as gone (its requests paid for again) only after GONE_TRIES polls in
 * a row answered 404/410, on the poll backoff, and then only if the provider's list does not hold
 * it either (found by the run's tag, as after a crash): one passing 404 must not pay twice.
 */
import { type BatchSnapshot, tagKey } from "../provider/contract.js";
import type { ShardRow } from "../state/index.js";
import { STUCK_STATUS } from "./collect.js";
import { GONE_TRIES } from "./delivery.js";
import {
  describeError,
  emitBatchStatus,
  type LoopContext,
  MAX_RETRY_DELAY_MS,
  optionalCallFailed,
  patchShard,
  providerAnswered,
  providerCall,
  providerFailed,
  warn,
} from "./loop-context.js";
import { type ProgressTracker, saneCounts } from "./progress.js";
import { submissionTag } from "./submission.js";

const CONCURRENT_POLLS = 8;
/** how far before its create to look for a batch in the provider's list (clocks differ) */
const LIST_MARGIN_MS = 15 * 60_000;

interface Timing {
  nextPollAt: number;
  interval: number;
  lastKey: string;
}

export type PollOutcome =
  | { shard: ShardRow; batch: BatchSnapshot; changed: boolean }
  /** the batch no longer exists at the provider */
  | { shard: ShardRow; batch: null; changed: true };

export class Poller {
  private readonly timing = new Map<string, Timing>();
  private readonly cancelAsked = new Set<string>();
  /** per shard: polls in a row that answered 404/410 */
  private readonly notFound = new Map<string, number>();

  constructor(private readonly ctx: LoopContext) {}

  private get base(): number {
    return this.ctx.pipeline.spec.batch.poll_interval;
  }

  /** start polling a shard's batch after one interval */
  track(shard: ShardRow): void {
    this.timing.set(shard.name, { nextPollAt: Date.now() + this.base, interval: this.base, lastKey: "" });
  }

  untrack(shard: ShardRow): void {
    this.timing.delete(shard.name);
    this.notFound.delete(shard.name);
  }

  /** the earliest time a poll is due, or undefined */
  nextDue(): number | undefined {
    let next: number | undefined;
    for (const t of this.timing.values())
      next = next === undefined ? t.nextPollAt : Math.min(next, t.nextPollAt);
    return next;
  }

  /** poll every open shard that is due; returns what each poll saw */
  async pollDue(open: ShardRow[]): Promise<PollOutcome[]> {
    const now = Date.now();
    const due = open.filter((s) => (this.timing.get(s.name)?.nextPollAt ?? 0) <= now);
    const outcomes: PollOutcome[] = [];
    for (let i = 0; i < due.length; i += CONCURRENT_POLLS) {
      if (this.ctx.signal.aborted) break;
      const polled = await Promise.all(due.slice(i, i + CONCURRENT_POLLS).map((s) => this.pollOne(s)));
      for (const outcome of polled) if (outcome) outcomes.push(outcome);
    }
    return outcomes;
  }

  private async pollOne(shard: ShardRow): Promise<PollOutcome | undefined> {
    const timing = this.timing.get(shard.name) ?? { nextPollAt: 0, interval: this.base, lastKey: "" };
    this.timing.set(shard.name, timing);
    const maxInterval = Math.max(this.base, Math.min(this.base * 10, 10 * 60_000));
    const ref = { id: shard.batchId!, data: shard.batch?.data ?? null };
    let batch: BatchSnapshot | null | undefined;
    const startedAt = Date.now();
    try {
      batch = await providerCall(this.ctx, (signal) => this.ctx.provider.poll(ref, { signal }));
      providerAnswered(this.ctx);
      if (batch === null) batch = await this.notFoundAnswer(shard, timing);
      else this.notFound.delete(shard.name);
    } catch (error) {
      if (this.ctx.signal.aborted) return undefined;
      providerFailed(this.ctx, error, startedAt);
      this.backOff(timing);
      warn(this.ctx, `could not poll batch ${shard.batchId}: ${describeError(error)}`);
      return undefined;
    }
    if (batch === undefined) return undefined;
    if (batch === null) return { shard, batch: null, changed: true };
    const c = batch.counts;
    const key = `${batch.status}:${c?.completed ?? ""}:${c?.failed ?? ""}`;
    const changed = key !== timing.lastKey;
    if (changed) {
      timing.lastKey = key;
      timing.interval = this.base;
    } else {
      timing.interval = Math.min(Math.ceil(timing.interval * 1.5), maxInterval);
    }
    timing.nextPollAt = Date.now() + timing.interval;
    if (batch.state === "running") {
      const stuck = await this.pastDeadline(shard, batch);
      if (stuck) return { shard, batch: stuck, changed: true };
    }
    return { shard, batch, changed };
  }

  private backOff(timing: Timing): void {
    timing.interval = Math.min(timing.interval * 2, Math.max(this.base, MAX_RETRY_DELAY_MS));
    timing.nextPollAt = Date.now() + timing.interval;
  }

  /**
   * A poll answered 404/410: polled again (backing off) until GONE_TRIES in a row; then the batch
   * is looked for in the provider's list by the shard's tag. undefined: not decided yet; null: gone.
   */
  private async notFoundAnswer(shard: ShardRow, timing: Timing): Promise<BatchSnapshot | null | undefined> {
    const n = (this.notFound.get(shard.name) ?? 0) + 1;
    this.notFound.set(shard.name, n);
    if (n < GONE_TRIES) {
      this.backOff(timing);
      warn(
        this.ctx,
        `batch ${shard.batchId} (shard ${shard.name}) was not found by the provider (404/410, ${n} of ${GONE_TRIES} in a row before it is taken as gone); polling it again`,
      );
      return undefined;
    }
    const tag = submissionTag(this.ctx, shard);
    const known: string[] = [];
    for (const s of this.ctx.shards.values()) if (s.batchId && s.name !== shard.name) known.push(s.batchId);
    const found = await providerCall(this.ctx, (signal) =>
      this.ctx.provider.find([tag], {
        since: (shard.createdAt ?? this.ctx.runCreatedAt) - LIST_MARGIN_MS,
        signal,
        staged: new Map([[tagKey(tag), shard.staged]]),
        known,
      }),
    );
    const listed = found.get(tagKey(tag));
    if (!listed) return null;
    this.notFound.delete(shard.name);
    this.backOff(timing);
    warn(
      this.ctx,
      `batch ${shard.batchId} (shard ${shard.name}) answered 404/410 to ${n} polls in a row but the provider still lists it (as ${listed.id}, ${listed.status}); it is kept, not paid for again`,
    );
    return listed;
  }

  /** cancels a batch past its deadline once; past the grace after that, the batch is given up */
  private async pastDeadline(shard: ShardRow, batch: BatchSnapshot): Promise<BatchSnapshot | null> {
    const { afterMs, graceMs } = this.ctx.deadline;
    const created = shard.createdAt ?? Date.now();
    const deadline =
      created + (afterMs ?? windowMs(this.ctx.pipeline.spec.batch.completion_window) + graceMs);
    const now = Date.now();
    if (now < deadline) return null;
    if (!this.cancelAsked.has(shard.name)) {
      this.cancelAsked.add(shard.name);
      warn(
        this.ctx,
        `batch ${batch.id} (shard ${shard.name}) has not ended by its deadline (created + completion window + grace); cancelling it to collect what it finished`,
      );
      const ref = { id: batch.id, data: batch.data };
      const startedAt = Date.now();
      try {
        await providerCall(this.ctx, (signal) => this.ctx.provider.cancel(ref, { signal }));
        providerAnswered(this.ctx);
      } catch (error) {
        if (this.ctx.signal.aborted) return null;
        optionalCallFailed(
          this.ctx,
          error,
          startedAt,
          `could not cancel batch ${batch.id} (shard ${shard.name})`,
        );
      }
      return null;
    }
    if (now < deadline + graceMs) return null;
    warn(
      this.ctx,
      `batch ${batch.id} (shard ${shard.name}) is still ${batch.status} past its deadline and a cancel; its requests are given up on as batch_stuck (and retried while attempts remain)`,
    );
    return stuckSnapshot(batch);
  }
}

/** an open batch given up on: ended for the engine, its results never read */
function stuckSnapshot(batch: BatchSnapshot): BatchSnapshot {
  return {
    ...batch,
    state: "ended",
    status: STUCK_STATUS,
    ending: "failed",
    queueFull: null,
    errors: [
      {
        code: "batch_stuck",
        message: `the batch did not end by its deadline, nor after it was cancelled (last status: ${batch.status})`,
        line: null,
      },
    ],
  };
}

/**
 * What a poll that brought news of a batch leaves: its counts made consistent with the shard where
 * they enter (saneCounts), the batch stored as last seen (status and view show it while it runs),
 * and told; a batch gone from the provider is said to be
 */
export function recordPoll(
  ctx: LoopContext,
  tracker: ProgressTracker,
  { shard, batch }: { shard: ShardRow; batch: BatchSnapshot | null },
): void {
  if (batch === null) {
    warn(
      ctx,
      `batch ${shard.batchId} (shard ${shard.name}) disappeared from the provider (404/410 to ${GONE_TRIES} polls in a row, and not in its list); its requests are retried`,
    );
    return;
  }
  const seen = batch.counts ? { ...batch, counts: saneCounts(batch.counts, shard.requests) } : batch;
  if (seen.counts) tracker.batchCounts(shard.name, seen.counts);
  patchShard(ctx, shard, { batchStatus: batch.status, batch: seen });
  emitBatchStatus(ctx, shard, seen);
}

/** "24h" → ms */
function windowMs(window: string): number {
  return Number.parseInt(window, 10) * 3_600_000;
}
