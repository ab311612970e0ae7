/**
 * What every step of the run loop shares: the pipeline, the state, the provider connection and the
 * run's shards (the in-memory copy of their rows, patched together with the state).
 */

import type { ResultCache } from "../cache/index.js";
import { BatchpipeError, ErrorCodes, isBatchpipeError } from "../errors.js";
import { pricesFor, shardCost } from "../estimate/pricing.js";
import type { Logger } from "../plugin.js";
import type { BatchSnapshot, ProviderConnection } from "../provider/contract.js";
import { withRetryDeadline } from "../provider/retry-deadline.js";
import type { RunCounters, RunTotals, ShardRow, ShardStatus, StateStore } from "../state/index.js";
import { fmt } from "./read/read-errors.js";
import { Scheduler } from "./scheduler.js";
import { type EngineEvent, type EnginePipeline, withCallSignal } from "./types.js";

export interface LoopContext {
  pipeline: EnginePipeline;
  state: StateStore;
  provider: ProviderConnection;
  runId: string;
  /** when the run was created (ms): reconciliation looks back from there */
  runCreatedAt: number;
  stateDir: string;
  signal: AbortSignal;
  logger: Logger;
  emit(event: EngineEvent): void;
  shards: Map<string, ShardRow>;
  /** the result cache successes are stored in (cache/); undefined: none is kept */
  cache?: ResultCache;
  counters: RunCounters;
  /** provider calls failing with no success since: when it began, how many failed, when to try next */
  outage: {
    since: number | null;
    failures: number;
    retryAt: number;
    last?: unknown;
    /** the provider answered a call of this process */
    answered?: boolean;
    /** when it last answered (ms) */
    answeredAt?: number;
  };
  /**
   * When a batch that has not ended is cancelled: `afterMs` after its creation (default: the
   * completion window + `graceMs`); `graceMs` later, still running, it is given up as batch_stuck.
   */
  deadline: { afterMs: number | null; graceMs: number };
}

/** the longest wait between two tries of a failing provider call (unless poll_interval is longer) */
export const MAX_RETRY_DELAY_MS = 2 * 60_000;

/** change a shard in memory and in the state */
export function patchShard(ctx: LoopContext, shard: ShardRow, patch: Partial<ShardRow>): void {
  Object.assign(shard, patch);
  ctx.state.updateShard(ctx.runId, shard.name, patch);
}

/** the shards in `status`, in submission order */
export function shardsIn(ctx: LoopContext, status: ShardStatus): ShardRow[] {
  return [...ctx.shards.values()]
    .filter((s) => s.status === status)
    .sort((a, b) => a.seq - b.seq || a.attempt - b.attempt);
}

/** shards not collected (or skipped) yet */
export function unfinishedShards(ctx: LoopContext): number {
  let n = 0;
  for (const s of ctx.shards.values()) if (s.status !== "collected" && s.status !== "skipped") n++;
  return n;
}

/** shards not at the provider yet: never submitted, or refused by its queue */
export function waitingShards(ctx: LoopContext): ShardRow[] {
  return [...shardsIn(ctx, "pending"), ...shardsIn(ctx, "queued")];
}

/** a shard's batch was created (or found again after a crash: `adopted`) */
export function emitSubmitted(ctx: LoopContext, shard: ShardRow, adopted: boolean): void {
  ctx.emit({
    type: "shard_submitted",
    run: ctx.runId,
    shard: shard.name,
    batchId: shard.batchId!,
    submission: shard.submission,
    adopted,
  });
}

/** the provider's queue refused the shard (what its queue holds besides it, in the queue's unit) */
export function emitQueueFull(
  ctx: LoopContext,
  scheduler: Scheduler,
  shard: ShardRow,
  message: string,
): void {
  ctx.emit({
    type: "queue_full",
    run: ctx.runId,
    shard: shard.name,
    model: shard.model,
    queue: scheduler.queueName(shard),
    inFlight: scheduler.inFlight(ctx.shards.values(), scheduler.queueKey(shard), shard.name),
    unit: scheduler.unit,
    message,
  });
}

/** a batch's status or counts changed */
export function emitBatchStatus(ctx: LoopContext, shard: ShardRow, batch: BatchSnapshot): void {
  ctx.emit({
    type: "batch_status",
    run: ctx.runId,
    shard: shard.name,
    batchId: batch.id,
    status: batch.status,
    counts: batch.counts ?? { total: shard.requests, completed: 0, failed: 0 },
  });
}

/** max_cost would be passed by the next shard: the run stops submitting */
export function emitBudgetExceeded(ctx: LoopContext, projected: number): void {
  ctx.emit({
    type: "budget_exceeded",
    run: ctx.runId,
    shard: waitingShards(ctx)[0]?.name ?? "",
    spent: ctx.counters.cost,
    projected,
    maxCost: ctx.pipeline.spec.batch.max_cost ?? 0,
  });
}

export function warn(ctx: LoopContext, message: string, code?: string): void {
  ctx.emit({ type: "warning", run: ctx.runId, message, ...(code ? { code } : {}) });
}

export function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Errors that no retry fixes: a bad key, a bad request, not a provider error at all, or a provider
 * that cannot be reached before anything was submitted (a wrong base_url should end the run in
 * seconds; once work is out there, an outage is waited out up to batch.max_outage).
 */
export function fatalProviderError(error: unknown, ctx?: LoopContext): boolean {
  if (!isBatchpipeError(error)) return true;
  const status = (error as { status?: number }).status;
  if (status === 401 || status === 403) return true;
  if (error.code === ErrorCodes.PROVIDER_UNREACHABLE) return !ctx || !submittedAny(ctx);
  if (error.code !== ErrorCodes.PROVIDER_FAILED) return true;
  return status === 400 || status === 404 || status === 422;
}

/**
 * Whether anything of the run may be at the provider: a batch, or staged data (an upload) once the
 * provider has answered this process. Staged data alone, with no answer yet, may be a local intent
 * (Anthropic's provider stages one before its create): a wrong base_url must not wait for hours
 * on it, and the saved state lets the next run find whatever an earlier process left.
 */
function submittedAny(ctx: LoopContext): boolean {
  for (const s of ctx.shards.values()) {
    if (
      s.batchId ||
      (s.staged !== null && ctx.outage.answered) ||
      s.status === "open" ||
      s.status === "ended" ||
      s.status === "collected"
    )
      return true;
  }
  return false;
}

/**
 * A provider call failed: a fatal error (fatalProviderError) is thrown on; one that time may fix
 * runs the outage clock, the next try backs off (capped), and past batch.max_outage the run stops
 * with its state saved.
 */
export function providerFailed(ctx: LoopContext, error: unknown, startedAt?: number): void {
  if (fatalProviderError(error, ctx)) throw error;
  const now = Date.now();
  const outage = ctx.outage;
  // the outage began when the failing call did (its own tries and timeouts may have taken minutes),
  // not before the provider's last answer
  outage.since ??= Math.max(startedAt ?? now, outage.answeredAt ?? 0);
  outage.failures++;
  outage.retryAt = now + retryDelay(ctx, outage.failures);
  outage.last = error;
  checkOutage(ctx);
}

/** a provider call succeeded: the outage (if any) is over */
export function providerAnswered(ctx: LoopContext): void {
  ctx.outage.since = null;
  ctx.outage.failures = 0;
  ctx.outage.retryAt = 0;
  ctx.outage.last = undefined;
  ctx.outage.answered = true;
  ctx.outage.answeredAt = Date.now();
}

/**
 * One provider call of the run: with a signal of its own that follows the run's, and retries (the
 * provider's, withRetries) that start none past the end of batch.max_outage, counted as the outage
 * clock counts it: from the start of the outage under way, else from the start of the call. A
 * call's own retries (minutes of them) then cannot keep the run going long past max_outage.
 */
export function providerCall<T>(
  ctx: LoopContext,
  fn: (signal: AbortSignal) => Promise<T>,
  /** the run's, or one that also follows it */
  signal: AbortSignal = ctx.signal,
): Promise<T> {
  const deadline = (startedAt: number) =>
    (ctx.outage.since ?? startedAt) + ctx.pipeline.spec.batch.max_outage;
  return withRetryDeadline(deadline, () => withCallSignal(signal, fn));
}

/**
 * A call the run can do without failed (a cancel): a warning says so, and a failure time may fix
 * (not a 400/404 for a batch that has ended meanwhile) runs the outage clock like any provider
 * call's, so cancels failing through an outage stop the run about batch.max_outage into it, as
 * polls do (their own retries stop there too: providerCall).
 */
export function optionalCallFailed(
  ctx: LoopContext,
  error: unknown,
  startedAt: number,
  message: string,
): void {
  warn(ctx, `${message}: ${describeError(error)}`, isBatchpipeError(error) ? error.code : undefined);
  if (!fatalProviderError(error, ctx)) providerFailed(ctx, error, startedAt);
}

/** throws once the provider has been failing for longer than batch.max_outage */
export function checkOutage(ctx: LoopContext): void {
  const { since, last } = ctx.outage;
  const max = ctx.pipeline.spec.batch.max_outage;
  if (since === null || Date.now() - since < max) return;
  throw new BatchpipeError(
    ErrorCodes.PROVIDER_UNREACHABLE,
    `the provider kept failing for ${Math.round((Date.now() - since) / 1000)} s, longer than batch.max_outage (${Math.round(max / 1000)} s); the run stopped with its state saved. Last error: ${describeError(last)}`,
    {
      hint: "Run the same command again once the provider is back: the run resumes where it stopped and pays for nothing twice. Raise batch.max_outage to wait longer.",
      cause: last,
    },
  );
}

/** backoff after `failures` failed tries in a row: doubling from poll_interval, capped */
export function retryDelay(ctx: LoopContext, failures: number): number {
  const base = ctx.pipeline.spec.batch.poll_interval;
  return Math.min(base * 2 ** Math.max(0, failures - 1), Math.max(base, MAX_RETRY_DELAY_MS));
}

/**
 * Whole-batch validation codes a resubmission of the same shard cannot fix (OpenAI's and Azure's),
 * with the setting that seals smaller shards
 */
const SHARD_TOO_LARGE: Record<string, string> = {
  too_many_tasks: "batch.max_requests",
  too_many_inputs: "batch.max_requests",
  file_too_large: "batch.max_bytes",
};

/** a batch that failed as a whole for its shard's size: the run stops instead of resubmitting it as is */
export function shardTooLarge(shard: ShardRow, batch: BatchSnapshot | null): BatchpipeError | null {
  if (batch?.ending !== "failed") return null;
  const error = batch.errors.find((e) => e.line === null && SHARD_TOO_LARGE[e.code] !== undefined);
  if (!error) return null;
  const setting = SHARD_TOO_LARGE[error.code]!;
  return new BatchpipeError(
    ErrorCodes.PROVIDER_FAILED,
    `batch ${batch.id} of shard ${shard.name} (${fmt(shard.requests)} requests, ${fmt(shard.bytes)} bytes) failed validation as a whole with ${error.code}: ${error.message} Resubmitting the same shard cannot fix it, so the run stopped with its state saved`,
    {
      hint: `Set ${setting} below what the provider allows (shards are sealed under it), then \`batchpipe cancel\` (from code: cancelRun) this run and run again: requests that succeeded are answered from the result cache.`,
    },
  );
}

export const HOUR = 3_600_000;
/** the state key of the queue budgets learned from refusals */
export const LEARNED_BUDGETS = "learned_budgets";

/** the run's scheduler: the provider's queue and limits, the spec's budget, what was learned and created */
export function runScheduler(ctx: LoopContext, totals: () => RunTotals | null): Scheduler {
  const spec = ctx.pipeline.spec;
  const provider = ctx.pipeline.provider;
  const limits = provider.plugin.limits(provider.options);
  const learned = ctx.state.getValue(LEARNED_BUDGETS);
  const recent = Date.now() - HOUR;
  return new Scheduler({
    queue: limits.queue,
    createsPerHour: limits.createsPerHour,
    maxEnqueued:
      limits.queue.counts === "tokens" ? spec.batch.max_enqueued_tokens : (limits.maxEnqueued ?? null),
    pollInterval: spec.batch.poll_interval,
    maxCost: spec.batch.max_cost,
    shardCost: (s) => shardCost(s, totals(), pricesFor(spec.pricing)) ?? 0,
    learned: learned ? (JSON.parse(learned) as Record<string, number>) : {},
    creations: [...ctx.shards.values()]
      .map((s) => s.createdAt)
      .filter((at): at is number => at !== null && at > recent),
  });
}
