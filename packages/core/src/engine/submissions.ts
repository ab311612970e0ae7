/**
 * The run's submissions, beside the run loop's turns (run-loop.ts), which poll and collect meanwhile:
 * one shard at a time uploaded and created (submission.ts submits one) as the scheduler allows,
 * reconciliation after a crash or an ambiguous failure, and what becomes of a shard's batch that the
 * scheduler must know: opened, refused by the provider's queue, ended.
 */
import type { BatchpipeError } from "../errors.js";
import type { BatchSnapshot } from "../provider/contract.js";
import type { ShardRow } from "../state/index.js";
import type { Deadline } from "./live-fallback.js";
import {
  checkOutage,
  describeError,
  emitBudgetExceeded,
  emitQueueFull,
  emitSubmitted,
  LEARNED_BUDGETS,
  type LoopContext,
  patchShard,
  providerFailed,
  shardTooLarge,
  waitingShards,
  warn,
} from "./loop-context.js";
import type { Poller } from "./polling.js";
import { interrupted } from "./read/index.js";
import type { ReadLink } from "./read-link.js";
import type { Scheduler } from "./scheduler.js";
import { cancelRequested, reconcileSubmissions, submitShard } from "./submission.js";

export interface SubmissionParts {
  scheduler: Scheduler;
  poller: Poller;
  deadline: Deadline;
  read: ReadLink;
  /** the run is being cancelled: nothing more is submitted */
  cancelling(): boolean;
}

export class Submissions {
  /** max_cost would be passed by the next shard: nothing more is submitted */
  budgetBlocked = false;
  /** the last submission opened a batch and more may be eligible: the next turn starts at once */
  submitAgain = false;
  /** a submission failed ambiguously (or the run resumes): look at the provider before repeating it */
  needsReconcile = true;
  /** a shard is being uploaded and created (the read yields more often meanwhile) */
  submitting = false;
  /**
   * waiting or resubmitting cannot help (Scheduler.neverFits, shardTooLarge): the turn stops the run
   * with it, the shard left as it was (a resumed run meets it again)
   */
  stopWith: BatchpipeError | undefined;
  /** the submission in flight beside the turns' collections and polls (settle) */
  private submission: Promise<void> | undefined;
  private submissionFailure: { error: unknown } | undefined;
  /**
   * Aborted when the loop stops on an error (an outage past batch.max_outage, a sink's failure):
   * the submission in flight is cut rather than waited for (an upload's attempt may last up to the
   * provider's upload timeout, 10 min by default for OpenAI). That is as safe as a crash: the
   * shard stays `submitting`, and the next run finds a finished upload or create before repeating
   * it, so nothing is paid twice.
   */
  private readonly stopping = new AbortController();
  private readonly signal: AbortSignal;
  private readonly scheduler: Scheduler;
  private readonly poller: Poller;
  private readonly deadline: Deadline;
  private readonly read: ReadLink;
  private readonly cancelling: () => boolean;

  constructor(
    private readonly ctx: LoopContext,
    parts: SubmissionParts,
  ) {
    this.signal = AbortSignal.any([ctx.signal, this.stopping.signal]);
    this.scheduler = parts.scheduler;
    this.poller = parts.poller;
    this.deadline = parts.deadline;
    this.read = parts.read;
    this.cancelling = parts.cancelling;
  }

  /** a submission is in flight */
  get inFlight(): boolean {
    return this.submission !== undefined;
  }

  /** the loop stops on `error`: the submission in flight is cut; whenIdle() waits for it */
  abort(error: unknown): void {
    this.stopping.abort(error);
  }

  /** the submission in flight has ended (never rejects: its failure is settle()'s) */
  async whenIdle(): Promise<void> {
    await this.submission;
  }

  // --- reconciliation after a crash ---

  async tryReconcile(): Promise<void> {
    // the shard being submitted again once the provider said it has no batch of it (what failed)
    let submitting: ShardRow | undefined;
    try {
      await reconcileSubmissions(this.ctx, {
        found: (shard, batch) => this.opened(shard, batch, true),
        notFound: async (shard) => {
          submitting = shard;
          await this.submit(shard, false);
          submitting = undefined;
        },
      });
      this.needsReconcile = false;
    } catch (error) {
      if (this.ctx.signal.aborted) throw interrupted();
      providerFailed(this.ctx, error);
      warn(
        this.ctx,
        submitting
          ? `could not submit shard ${submitting.name} (the provider has no batch of its earlier try); retrying later: ${describeError(error)}`
          : `could not check the provider for interrupted submissions; retrying: ${describeError(error)}`,
      );
    }
  }

  // --- submission ---

  /**
   * One submission at a time, beside the turns' collections and polls (submitting between them
   * idled the provider, or left ended shards uncollected). Its failure waits for settle();
   * its end wakes the loop.
   */
  start(): void {
    if (this.submission || this.submissionFailure || this.cancelling() || this.deadline.passed) return;
    if (!this.read.maySubmit() || waitingShards(this.ctx).length === 0) return;
    this.submission = this.submitNext()
      .catch((error: unknown) => {
        this.submissionFailure = { error };
      })
      .finally(() => {
        this.submission = undefined;
        this.read.wake();
      });
  }

  /**
   * What must not run beside a submission waits for the one in flight: reconciliation, a cancel
   * and the deadline's (they cancel the open batches, its own included once it is open).
   */
  async settleIfDue(now: number): Promise<void> {
    if (!this.submission) return;
    const cancelDue = !this.cancelling() && cancelRequested(this.ctx);
    if (this.needsReconcile || this.deadline.due(now) || cancelDue) await this.settle(true);
  }

  /**
   * The submission's end, and its failure thrown; without `wait`, only a submission that has ended.
   * During an outage it waits no longer than batch.max_outage's end: the run then stops, and the
   * stop cuts the submission (`stopping`) instead of waiting out an upload's timeout.
   */
  async settle(wait: boolean): Promise<void> {
    if (this.submission && !wait) return;
    const since = this.ctx.outage.since;
    if (this.submission && since !== null) {
      await untilOrLater(this.submission, since + this.ctx.pipeline.spec.batch.max_outage);
      checkOutage(this.ctx);
    }
    await this.submission;
    const failure = this.submissionFailure;
    this.submissionFailure = undefined;
    if (failure) throw failure.error;
  }

  /** the next shard the scheduler allows (past the deadline: one answered through the live API) */
  async submitNext(): Promise<void> {
    this.submitAgain = false;
    if (this.deadline.passed) {
      this.submitAgain = await this.deadline.answerNext();
      return;
    }
    if (this.budgetBlocked || this.ctx.outage.retryAt > Date.now()) return;
    const decision = this.scheduler.next([...this.ctx.shards.values()], Date.now(), this.ctx.counters.cost);
    if (decision.submit === null) {
      if (decision.blocked === "cost") {
        this.budgetBlocked = true;
        emitBudgetExceeded(this.ctx, decision.cost?.projected ?? 0);
      }
      return;
    }
    const shard = this.ctx.shards.get(decision.submit.name)!;
    let opened: boolean;
    const startedAt = Date.now();
    try {
      opened = await this.submit(shard, true);
    } catch (error) {
      if (this.ctx.signal.aborted) throw interrupted();
      providerFailed(this.ctx, error, startedAt);
      warn(this.ctx, `could not submit shard ${shard.name}; retrying later: ${describeError(error)}`);
      this.needsReconcile = true;
      return;
    }
    // more may be eligible (a refusal by the provider's queue waits for the next turn)
    this.submitAgain = opened;
  }

  /** false: the provider's queue refused the shard */
  private async submit(shard: ShardRow, fresh: boolean): Promise<boolean> {
    this.submitting = true;
    const result = await submitShard(this.ctx, shard, fresh, this.signal).finally(() => {
      this.submitting = false;
    });
    if ("queueFull" in result) {
      this.refused(shard, result.queueFull);
      return false;
    }
    this.opened(shard, result.batch, !fresh);
    return true;
  }

  private opened(shard: ShardRow, batch: BatchSnapshot, adopted: boolean): void {
    const createdAt = Date.now();
    this.scheduler.created(createdAt);
    this.ctx.counters.batches++;
    this.ctx.state.saveCounters(this.ctx.runId, this.ctx.counters);
    patchShard(this.ctx, shard, {
      status: "open",
      batchId: batch.id,
      batchStatus: batch.status,
      createdAt,
      batch,
    });
    this.poller.track(shard);
    emitSubmitted(this.ctx, shard, adopted);
    if (batch.state === "ended") this.ended(shard, batch);
  }

  /** the provider's queue refused the shard: not an error, no attempt spent; wait and resubmit */
  private refused(shard: ShardRow, message: string): void {
    const shards = [...this.ctx.shards.values()];
    const learned = this.scheduler.refused(shards, shard, Date.now());
    this.ctx.state.setValue(LEARNED_BUDGETS, JSON.stringify(learned));
    this.ctx.counters.queueRefusals++;
    this.ctx.state.saveCounters(this.ctx.runId, this.ctx.counters);
    patchShard(this.ctx, shard, { status: "queued", batchId: null, batchStatus: null });
    this.poller.untrack(shard);
    emitQueueFull(this.ctx, this.scheduler, shard, message);
    // waiting cannot help a shard bigger than the queue: the turn stops the run (stopWith)
    this.stopWith ??= this.scheduler.neverFits(shard, message) ?? undefined;
  }

  ended(shard: ShardRow, batch: BatchSnapshot | null): void {
    this.scheduler.ended(shard);
    this.poller.untrack(shard);
    if (batch?.queueFull) {
      this.refused(shard, batch.queueFull);
      return;
    }
    const tooLarge = shardTooLarge(shard, batch);
    if (tooLarge) {
      // not collected: its requests would be resubmitted unchanged, to fail the same way
      this.stopWith ??= tooLarge;
      return;
    }
    this.scheduler.accepted(shard);
    patchShard(this.ctx, shard, { status: "ended", batchStatus: batch?.status ?? "missing", batch });
  }
}

/** `promise` settled, or the time `at` (ms) came, whichever is first; never rejects */
async function untilOrLater(promise: Promise<unknown>, at: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      promise.catch(() => undefined),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, Math.max(0, at - Date.now()));
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
