/**
 * Polling open batches: one loop for all of them, each on its own backoff (reset when its status
 * or counts move), a few at a time. A batch past its window plus a grace period is asked to cancel
 * once, so what it finished can be collected.
 */
import type { BatchSnapshot } from "../provider/contract.js";
import type { ShardRow } from "../state/index.js";
import { describeError, type LoopContext, warn } from "./loop-context.js";
import { withCallSignal } from "./types.js";

/** a batch is never given up before expires_at + this */
const EXPIRY_GRACE_MS = 3_600_000;
const CONCURRENT_POLLS = 8;

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

  constructor(
    private readonly ctx: LoopContext,
    /** whether an error means the run cannot go on (bad key, bad request) */
    private readonly fatal: (error: unknown) => boolean,
  ) {}

  private get base(): number {
    return this.ctx.pipeline.spec.batch.poll_interval;
  }

  /** start polling a shard's batch after one interval */
  track(shard: ShardRow): void {
    this.timing.set(shard.name, { nextPollAt: Date.now() + this.base, interval: this.base, lastKey: "" });
  }

  untrack(shard: ShardRow): void {
    this.timing.delete(shard.name);
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
    let batch: BatchSnapshot | null;
    try {
      batch = await withCallSignal(this.ctx.signal, (signal) => this.ctx.provider.poll(ref, { signal }));
    } catch (error) {
      if (this.ctx.signal.aborted) return undefined;
      if (this.fatal(error)) throw error;
      timing.interval = Math.min(timing.interval * 2, maxInterval);
      timing.nextPollAt = Date.now() + timing.interval;
      warn(this.ctx, `could not poll batch ${shard.batchId}: ${describeError(error)}`);
      return undefined;
    }
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
    if (
      batch.state === "running" &&
      batch.expiresAt !== null &&
      Date.now() > batch.expiresAt + EXPIRY_GRACE_MS &&
      !this.cancelAsked.has(shard.name)
    ) {
      // never declared dead before its window ends; past it (plus grace) it is cancelled, then collected
      this.cancelAsked.add(shard.name);
      warn(this.ctx, `batch ${batch.id} is past its window; cancelling it to collect what it finished`);
      await this.ctx.provider.cancel(ref).catch((error: unknown) => {
        warn(this.ctx, `could not cancel batch ${batch.id}: ${describeError(error)}`);
      });
    }
    return { shard, batch, changed };
  }
}
