/**
 * The run loop, beside the read (streaming submission): until the read has ended and every request
 * has an outcome, it takes the shards each read checkpoint commits, finds interrupted
 * submissions again, collects ended batches, polls open ones, and submits what the scheduler
 * allows. Every remote effect is preceded by an intent in the state and every delivery is committed
 * by one state transaction, so the loop can be killed anywhere and started again.
 */
import type { ResultCache } from "../cache/index.js";
import type { BatchpipeError } from "../errors.js";
import type { Logger } from "../plugin.js";
import type { BatchSnapshot, ProviderConnection } from "../provider/contract.js";
import type { RunCounters, RunRow, RunTotals, ShardRow, StateStore } from "../state/index.js";
import { ShardCleanUp } from "./clean-up.js";
import { collectEnded } from "./collect-ended.js";
import { Delivery } from "./delivery.js";
import { Deadline } from "./live-fallback.js";
import {
  checkOutage,
  describeError,
  emitBudgetExceeded,
  emitQueueFull,
  emitSubmitted,
  HOUR,
  LEARNED_BUDGETS,
  type LoopContext,
  patchShard,
  providerFailed,
  runScheduler,
  shardsIn,
  shardTooLarge,
  unfinishedShards,
  waitingShards,
  warn,
} from "./loop-context.js";
import { Poller, recordPoll } from "./polling.js";
import { ProgressTracker } from "./progress.js";
import { type FanoutGate, interrupted } from "./read/index.js";
import { ReadLink } from "./read-link.js";
import { budgetExceeded, type Scheduler } from "./scheduler.js";
import { cancelIfRequested, cancelShards, reconcileSubmissions, submitShard } from "./submission.js";
import type { EngineEvent, EnginePipeline } from "./types.js";

export interface RunLoopOptions {
  pipeline: EnginePipeline;
  state: StateStore;
  provider: ProviderConnection;
  run: RunRow;
  stateDir: string;
  signal: AbortSignal;
  logger: Logger;
  emit(event: EngineEvent): void;
  /** per sink call (batch.plugin_timeout) */
  pluginTimeoutMs?: number;
  /** requests per delivery part */
  deliveryPartSize: number;
  /** batch deadlines (EngineTuning, resolved) */
  deadline: LoopContext["deadline"];
  /** the run's source is still being read (readEnded, or read.failed, tell when it stops) */
  reading?: { holdSubmissions: boolean; gate: FanoutGate };
  /** the result cache successes are stored in */
  cache?: ResultCache;
}

export class RunLoop {
  private readonly ctx: LoopContext;
  private readonly scheduler: Scheduler;
  private readonly poller: Poller;
  private readonly delivery: Delivery;
  private readonly deadline: Deadline;
  private budgetBlocked = false;
  /** the last turn submitted a shard and more may be eligible: the next turn starts at once */
  private submitAgain = false;
  /** a submission failed ambiguously (or the run resumes): look at the provider before repeating it */
  private needsReconcile = true;
  private cancelling = false;
  private readonly tracker: ProgressTracker;
  /** the read beside the loop (its failure: `read.failed`, the loop then stops with its error) */
  readonly read: ReadLink;
  private prepDelivered = false;
  /** a shard is being uploaded and created (the read yields more often meanwhile) */
  submitting = false;
  /** the submission in flight beside the turn's collections and polls (settleSubmission) */
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
  private readonly submitSignal: AbortSignal;
  /**
   * waiting or resubmitting cannot help (Scheduler.neverFits, shardTooLarge): the turn stops the run
   * with it, the shard left as it was (a resumed run meets it again)
   */
  private stopWith: BatchpipeError | undefined;
  private totals: RunTotals | null;
  /** the files of collected shards (batch.clean_up) */
  readonly cleanUp: ShardCleanUp;

  constructor(o: RunLoopOptions) {
    this.tracker = new ProgressTracker({ startedAt: Date.now(), total: o.run.totals?.read ?? 0 });
    this.read = new ReadLink(o.reading);
    this.tracker.reading = this.read.reading;
    this.totals = o.run.totals;
    this.ctx = {
      pipeline: o.pipeline,
      state: o.state,
      provider: o.provider,
      runId: o.run.id,
      runCreatedAt: o.run.createdAt,
      stateDir: o.stateDir,
      signal: o.signal,
      logger: o.logger,
      emit: o.emit,
      shards: new Map(o.state.shards(o.run.id).map((s) => [s.name, s])),
      counters: o.run.counters,
      outage: { since: null, failures: 0, retryAt: 0 },
      deadline: o.deadline,
      cache: o.cache,
    };
    this.submitSignal = AbortSignal.any([o.signal, this.stopping.signal]);
    this.scheduler = runScheduler(this.ctx, () => this.totals);
    this.poller = new Poller(this.ctx);
    this.deadline = new Deadline(this.ctx, () => this.totals);
    this.cleanUp = new ShardCleanUp(this.ctx, o.pipeline.spec.batch.clean_up, this.read.reading);
    this.delivery = new Delivery(this.ctx, {
      pluginTimeoutMs: o.pluginTimeoutMs,
      partSize: o.deliveryPartSize,
      onPart: () => this.betweenParts(),
    });
  }

  get runId(): string {
    return this.ctx.runId;
  }

  /** shards a read checkpoint committed (those the loop has already are ignored) */
  addShards(shards: ShardRow[]): void {
    for (const shard of shards) if (!this.ctx.shards.has(shard.name)) this.ctx.shards.set(shard.name, shard);
    // a run cancelled while reading: its later shards are never submitted either
    if (this.cancelling) cancelShards(this.ctx);
    this.read.wake();
  }

  readProgress(records: number): void {
    this.tracker.total = records;
  }

  /** the read ended: its shards are all known (finishReading committed) */
  readEnded(totals: RunTotals | null): void {
    this.totals = totals;
    this.tracker.total = totals?.read ?? this.tracker.total;
    this.tracker.reading = false;
    this.read.ended();
    this.cleanUp.readEnded();
  }

  /** runs to the end; returns the final counters */
  async run(): Promise<{ counters: RunCounters; cancelled: boolean }> {
    await this.delivery.open();
    try {
      for (;;) {
        this.read.check();
        this.checkSignal();
        const now = Date.now();
        await this.settleIfDue(now);
        // none of these runs beside a submission (settleIfDue ended it when one was due)
        if (!this.submission) {
          this.checkCancel();
          await this.deadline.check(now);
        }
        checkOutage(this.ctx);
        if (this.needsReconcile && !this.submission && this.ctx.outage.retryAt <= Date.now())
          await this.tryReconcile();
        this.startSubmission();
        await this.collectEnded();
        await this.pollDue();
        await this.collectEnded();
        // a slow upload goes on through the next turns, which poll and collect meanwhile
        await this.settleSubmission(false);
        if (this.stopWith) throw this.stopWith;
        // past the deadline, a shard is answered through the live API instead (one per turn)
        if (this.deadline.passed && !this.cancelling && this.read.maySubmit()) await this.submitNext();
        // records that never became requests: their rows once the read has written them all
        if (!this.read.reading && !this.prepDelivered) {
          await this.delivery.prepFailures();
          this.prepDelivered = true;
        }
        this.progress(false);
        this.read.check();
        // (a submission in flight holds an unfinished shard)
        if (!this.read.reading && unfinishedShards(this.ctx) === 0 && !this.needsReconcile) break;
        const busy = ["open", "submitting", "ended"] as const;
        if (this.budgetBlocked && busy.every((status) => shardsIn(this.ctx, status).length === 0)) {
          throw budgetExceeded(this.ctx.pipeline.spec.batch.max_cost, this.ctx.counters.cost);
        }
        await this.read.sleep(this.nextWake(), this.ctx.signal);
      }
      this.progress(true);
      return { counters: this.ctx.counters, cancelled: this.cancelling };
    } catch (error) {
      this.stopping.abort(error);
      throw error;
    } finally {
      await this.submission;
      await this.delivery.close();
    }
  }

  /** every shard of the run */
  shards(): ShardRow[] {
    return [...this.ctx.shards.values()];
  }

  private async collectEnded(): Promise<void> {
    await collectEnded(this.ctx, this.delivery, {
      cancelling: this.cancelling,
      deadlinePassed: this.deadline.passed,
      mayCollect: (root) => this.read.mayCollect(root),
      collectionDone: (root) => this.read.collectionDone(root),
      collected: (shard) => {
        this.tracker.collected(shard.name);
        this.cleanUp.collected(shard);
        this.progress(true);
      },
    });
  }

  // --- reconciliation after a crash ---

  private async tryReconcile(): Promise<void> {
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
   * idled the provider, or left ended shards uncollected). Its failure waits for settleSubmission;
   * its end wakes the loop.
   */
  private startSubmission(): void {
    if (this.submission || this.submissionFailure || this.cancelling || this.deadline.passed) return;
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
  private async settleIfDue(now: number): Promise<void> {
    if (!this.submission) return;
    const deadlineDue = this.deadline.at !== null && !this.deadline.passed && now >= this.deadline.at;
    const cancelDue = !this.cancelling && this.ctx.state.getRun(this.ctx.runId)?.cancelRequested === true;
    if (this.needsReconcile || deadlineDue || cancelDue) await this.settleSubmission(true);
  }

  /**
   * The submission's end, and its failure thrown; without `wait`, only a submission that has ended.
   * During an outage it waits no longer than batch.max_outage's end: the run then stops, and the
   * stop cuts the submission (`stopping`) instead of waiting out an upload's timeout.
   */
  private async settleSubmission(wait: boolean): Promise<void> {
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

  /** between a collection's parts the next submission starts, once the one before is done */
  private betweenParts(): void {
    this.progress(false);
    // not under max_cost: its projection would count the parts delivered so far twice
    if (this.ctx.pipeline.spec.batch.max_cost == null) this.startSubmission();
  }

  private async submitNext(): Promise<void> {
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
    const result = await submitShard(this.ctx, shard, fresh, this.submitSignal).finally(() => {
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
    this.ctx.state.saveCounters(this.runId, this.ctx.counters);
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
    this.ctx.state.saveCounters(this.runId, this.ctx.counters);
    patchShard(this.ctx, shard, { status: "queued", batchId: null, batchStatus: null });
    this.poller.untrack(shard);
    emitQueueFull(this.ctx, this.scheduler, shard, message);
    // waiting cannot help a shard bigger than the queue: the turn stops the run (stopWith)
    this.stopWith ??= this.scheduler.neverFits(shard, message) ?? undefined;
  }

  // --- tracking ---

  private async pollDue(): Promise<void> {
    this.checkSignal();
    for (const outcome of await this.poller.pollDue(shardsIn(this.ctx, "open"))) {
      const { shard, batch, changed } = outcome;
      if (changed) recordPoll(this.ctx, this.tracker, outcome);
      if (batch === null || batch.state === "ended") this.ended(shard, batch);
    }
  }

  private ended(shard: ShardRow, batch: BatchSnapshot | null): void {
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

  // --- cancellation ---

  private checkCancel(): void {
    if (!this.cancelling) this.cancelling = cancelIfRequested(this.ctx);
  }

  // --- helpers ---

  private nextWake(): number {
    if (this.submitAgain) return 0;
    const now = Date.now();
    let next = now + this.ctx.pipeline.spec.batch.poll_interval;
    next = Math.min(next, this.poller.nextDue() ?? next);
    if (this.deadline.at !== null && !this.deadline.passed) next = Math.min(next, this.deadline.at);
    next = Math.min(next, this.delivery.retryAt() ?? next);
    next = Math.max(next, Math.min(this.scheduler.rateOpensAt(now), now + HOUR));
    return Math.max(10, Math.min(next - now, 1000));
  }

  private checkSignal(): void {
    if (this.ctx.signal.aborted) throw interrupted();
  }

  private progress(force: boolean): void {
    this.tracker.emit(this.ctx, force);
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
