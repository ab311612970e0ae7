/**
 * The run loop, beside the read (streaming submission): until the read has ended and every request
 * has an outcome, it takes the shards each read checkpoint commits, finds interrupted
 * submissions again, collects ended batches, polls open ones, and submits what the scheduler
 * allows. Every remote effect is preceded by an intent in the state and every delivery is committed
 * by one state transaction, so the loop can be killed anywhere and started again. The submissions
 * (one at a time, beside the turns, and reconciliation) are submissions.ts's.
 */
import type { ResultCache } from "../cache/index.js";
import type { Logger } from "../plugin.js";
import type { ProviderConnection } from "../provider/contract.js";
import type { RunCounters, RunRow, RunTotals, ShardRow, StateStore } from "../state/index.js";
import { ShardCleanUp } from "./clean-up.js";
import { collectEnded } from "./collect-ended.js";
import { Delivery } from "./delivery.js";
import { Deadline } from "./live-fallback.js";
import {
  checkOutage,
  HOUR,
  type LoopContext,
  runScheduler,
  shardsIn,
  unfinishedShards,
} from "./loop-context.js";
import { Poller, recordPoll } from "./polling.js";
import { ProgressTracker } from "./progress.js";
import { type FanoutGate, interrupted } from "./read/index.js";
import { ReadLink } from "./read-link.js";
import { budgetExceeded, type Scheduler } from "./scheduler.js";
import { cancelIfRequested, cancelShards } from "./submission.js";
import { Submissions } from "./submissions.js";
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
  private readonly submissions: Submissions;
  private cancelling = false;
  private readonly tracker: ProgressTracker;
  /** the read beside the loop (its failure: `read.failed`, the loop then stops with its error) */
  readonly read: ReadLink;
  private prepDelivered = false;
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
    this.scheduler = runScheduler(this.ctx, () => this.totals);
    this.poller = new Poller(this.ctx);
    this.deadline = new Deadline(this.ctx, () => this.totals);
    this.cleanUp = new ShardCleanUp(this.ctx, o.pipeline.spec.batch.clean_up, this.read.reading);
    this.submissions = new Submissions(this.ctx, {
      scheduler: this.scheduler,
      poller: this.poller,
      deadline: this.deadline,
      read: this.read,
      cancelling: () => this.cancelling,
    });
    this.delivery = new Delivery(this.ctx, {
      pluginTimeoutMs: o.pluginTimeoutMs,
      partSize: o.deliveryPartSize,
      onPart: () => this.betweenParts(),
    });
  }

  get runId(): string {
    return this.ctx.runId;
  }

  /** a shard is being uploaded and created (the read yields more often meanwhile) */
  get submitting(): boolean {
    return this.submissions.submitting;
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
    const { submissions } = this;
    try {
      for (;;) {
        this.read.check();
        this.checkSignal();
        const now = Date.now();
        await submissions.settleIfDue(now);
        // none of these runs beside a submission (settleIfDue ended it when one was due)
        if (!submissions.inFlight) {
          this.checkCancel();
          await this.deadline.check(now);
        }
        checkOutage(this.ctx);
        if (submissions.needsReconcile && !submissions.inFlight && this.ctx.outage.retryAt <= Date.now())
          await submissions.tryReconcile();
        submissions.start();
        await this.collectEnded();
        await this.pollDue();
        await this.collectEnded();
        // a slow upload goes on through the next turns, which poll and collect meanwhile
        await submissions.settle(false);
        if (submissions.stopWith) throw submissions.stopWith;
        // past the deadline, a shard is answered through the live API instead (one per turn)
        if (this.deadline.passed && !this.cancelling && this.read.maySubmit()) await submissions.submitNext();
        // records that never became requests: their rows once the read has written them all
        if (!this.read.reading && !this.prepDelivered) {
          await this.delivery.prepFailures();
          this.prepDelivered = true;
        }
        this.progress(false);
        this.read.check();
        // (a submission in flight holds an unfinished shard)
        if (!this.read.reading && unfinishedShards(this.ctx) === 0 && !submissions.needsReconcile) break;
        const busy = ["open", "submitting", "ended"] as const;
        if (submissions.budgetBlocked && busy.every((status) => shardsIn(this.ctx, status).length === 0)) {
          throw budgetExceeded(this.ctx.pipeline.spec.batch.max_cost, this.ctx.counters.cost);
        }
        await this.read.sleep(this.nextWake(), this.ctx.signal);
      }
      this.progress(true);
      return { counters: this.ctx.counters, cancelled: this.cancelling };
    } catch (error) {
      this.submissions.abort(error);
      throw error;
    } finally {
      await this.submissions.whenIdle();
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

  /** between a collection's parts the next submission starts, once the one before is done */
  private betweenParts(): void {
    this.progress(false);
    // not under max_cost: its projection would count the parts delivered so far twice
    if (this.ctx.pipeline.spec.batch.max_cost == null) this.submissions.start();
  }

  // --- tracking ---

  private async pollDue(): Promise<void> {
    this.checkSignal();
    for (const outcome of await this.poller.pollDue(shardsIn(this.ctx, "open"))) {
      const { shard, batch, changed } = outcome;
      if (changed) recordPoll(this.ctx, this.tracker, outcome);
      if (batch === null || batch.state === "ended") this.submissions.ended(shard, batch);
    }
  }

  // --- cancellation ---

  private checkCancel(): void {
    if (!this.cancelling) this.cancelling = cancelIfRequested(this.ctx);
  }

  // --- helpers ---

  private nextWake(): number {
    if (this.submissions.submitAgain) return 0;
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
