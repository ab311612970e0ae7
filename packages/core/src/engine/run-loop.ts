/**
 * The run loop after the read phase: submit shards within the queue budget, poll every open batch
 * in one loop with backoff, collect ended batches one at a time and deliver their rows, schedule
 * retry shards, until every request has an outcome. Every remote effect is preceded by an intent in
 * the state (uploading / submitting + submission number) and every delivery is committed by one
 * state transaction, so the loop can be killed anywhere and started again.
 */
import fs from "node:fs";
import path from "node:path";
import readline from "node:readline";
import { BatchpipeError, ErrorCodes } from "../errors.js";
import { estimateCost } from "../estimate/pricing.js";
import type { FailureRow, Logger } from "../plugin.js";
import { type BatchInfo, type BatchProvider, TERMINAL_STATUSES } from "../provider/types.js";
import {
  emptyCounters,
  type RunCounters,
  type RunRow,
  type ShardRow,
  type ShardStatus,
  type StateStore,
} from "../state/index.js";
import { type CollectResult, collectShard } from "./collect.js";
import { interrupted, prepFailuresFile } from "./read-phase.js";
import { SinkSet } from "./sink-set.js";
import { type EngineEvent, type EnginePipeline, type ProgressSnapshot, withCallSignal } from "./types.js";

/** OpenAI allows 2,000 batch creations an hour. */
const CREATIONS_PER_HOUR = 2000;
const HOUR = 3_600_000;
/** a batch is never given up before expires_at + this */
const EXPIRY_GRACE_MS = HOUR;
/** how far back to look for a batch or file created by an interrupted call */
const RECONCILE_MARGIN_MS = 15 * 60_000;

export interface RunLoopOptions {
  pipeline: EnginePipeline;
  state: StateStore;
  provider: BatchProvider;
  run: RunRow;
  stateDir: string;
  signal: AbortSignal;
  logger: Logger;
  emit(event: EngineEvent): void;
  /** per sink call (batch.plugin_timeout); default 5 minutes */
  pluginTimeoutMs?: number;
  /** requests per delivery part */
  deliveryPartSize: number;
}

interface Timing {
  nextPollAt: number;
  interval: number;
  lastKey: string;
}

export class RunLoop {
  private readonly shards = new Map<string, ShardRow>();
  private counters: RunCounters;
  private sinks: SinkSet | undefined;
  private readonly timing = new Map<string, Timing>();
  /** per model: ended batches so far (a queued shard waits for the next one) */
  private readonly endedByModel = new Map<string, number>();
  private readonly queuedAt = new Map<string, { ended: number; at: number; waits: number }>();
  private readonly learnedBudget = new Map<string, number>();
  private readonly creations: number[] = [];
  private readonly inFlightCounts = new Map<string, { total: number; completed: number; failed: number }>();
  private budgetBlocked = false;
  /** the last turn submitted a shard and more may be eligible: the next turn starts at once */
  private submitAgain = false;
  /** an upload or create failed ambiguously: look at the provider before repeating it */
  private needsReconcile = true;
  private cancelling = false;
  private readonly startedAt = Date.now();
  private doneAtStart = 0;
  private collectBackoff = new Map<string, { at: number; failures: number }>();
  private lastProgress = 0;

  constructor(private readonly o: RunLoopOptions) {
    this.counters = o.run.counters;
    for (const shard of o.state.shards(o.run.id)) this.shards.set(shard.name, shard);
    const learned = o.state.getValue("learned_budgets");
    if (learned)
      for (const [m, v] of Object.entries(JSON.parse(learned) as Record<string, number>))
        this.learnedBudget.set(m, v);
    for (const s of this.shards.values())
      if (s.createdAt && s.createdAt > Date.now() - HOUR) this.creations.push(s.createdAt);
    this.creations.sort((a, b) => a - b);
  }

  get spec() {
    return this.o.pipeline.spec;
  }

  get runId() {
    return this.o.run.id;
  }

  /** runs to the end; returns the final counters */
  async run(): Promise<{ counters: RunCounters; cancelled: boolean }> {
    this.sinks = await SinkSet.open({ ...this.o, runId: this.runId });
    try {
      this.doneAtStart = this.counters.succeeded + this.counters.failed;
      await this.deliverPrepFailures();
      for (;;) {
        this.checkSignal();
        this.checkCancel();
        if (this.needsReconcile) await this.tryReconcile();
        await this.collectEnded();
        await this.pollDue();
        await this.collectEnded();
        if (!this.cancelling) await this.submitEligible();
        this.progress(false);
        if (this.remaining() === 0 && !this.needsReconcile) break;
        if (this.budgetBlocked && this.openCount() === 0 && this.endedCount() === 0) {
          throw this.budgetError();
        }
        await this.sleep(this.nextWake());
      }
      this.progress(true);
      return { counters: this.counters, cancelled: this.cancelling };
    } finally {
      await this.sinks?.close();
    }
  }

  // --- delivery ---

  private async deliverPrepFailures(): Promise<void> {
    const key = `${this.runId}:prep`;
    if (this.o.state.delivered(key)) return;
    const file = path.join(this.o.stateDir, prepFailuresFile(this.runId));
    const sinks = this.sinks!;
    await sinks.begin(key);
    const counters = structuredClone(this.counters);
    if (fs.existsSync(file)) {
      for await (const line of readline.createInterface({
        input: fs.createReadStream(file),
        crlfDelay: Infinity,
      })) {
        if (line === "") continue;
        const row = JSON.parse(line) as FailureRow;
        counters.failed++;
        counters.failedByCode[row.error.code] = (counters.failedByCode[row.error.code] ?? 0) + 1;
        await sinks.write(row);
      }
    }
    const checkpoints = await sinks.commit(key);
    this.o.state.recordDelivery({ runId: this.runId, key, checkpoints, counters });
    this.counters = counters;
  }

  private async collectEnded(): Promise<void> {
    for (const shard of this.sorted("ended")) {
      const backoff = this.collectBackoff.get(shard.name);
      if (backoff && backoff.at > Date.now()) continue;
      this.checkSignal();
      await this.collectOne(shard);
    }
  }

  private async collectOne(shard: ShardRow): Promise<void> {
    const key = `${this.runId}:${shard.name}`;
    const partKey = (part: number) => `${key}#p${part}`;
    const batch = shard.note ? (JSON.parse(shard.note) as BatchInfo | null) : null;
    let partsDone = 0;
    while (this.o.state.delivered(partKey(partsDone))) partsDone++;
    /** what this collection delivered, for the event */
    let delivered = emptyCounters();
    let result: Awaited<ReturnType<typeof collectShard>>;
    let checkpoints: Awaited<ReturnType<SinkSet["commit"]>>;
    try {
      await this.sinks!.begin(partKey(partsDone));
      result = await withCallSignal(this.o.signal, (signal) =>
        collectShard({
          provider: this.o.provider,
          stateDir: this.o.stateDir,
          shard,
          batch,
          fanout: this.o.state.fanoutFor(this.runId, shard.root),
          maxAttempts: this.spec.batch.max_attempts,
          noRetry: this.cancelling,
          sinks: this.sinks!,
          signal,
          partSize: this.o.deliveryPartSize,
          partsDone,
          commitPart: async (part, delta) => {
            const checkpoints = await this.sinks!.commit(partKey(part));
            const counters = addCounters(this.counters, delta);
            this.o.state.recordDelivery({ runId: this.runId, key: partKey(part), checkpoints, counters });
            this.counters = counters;
            delivered = addCounters(delivered, delta);
            await this.sinks!.begin(partKey(part + 1));
            this.progress(false);
          },
        }),
      );
      checkpoints = await this.sinks!.commit(key);
    } catch (error) {
      // rows written past the last recorded checkpoint must go: reopen every sink at its checkpoint
      await this.sinks?.close();
      this.sinks = await SinkSet.open({ ...this.o, runId: this.runId });
      if (this.o.signal.aborted) throw interrupted();
      if (error instanceof BatchpipeError && error.code !== ErrorCodes.PROVIDER_FAILED) throw error;
      const failures = (this.collectBackoff.get(shard.name)?.failures ?? 0) + 1;
      this.collectBackoff.set(shard.name, {
        at: Date.now() + this.spec.batch.poll_interval * 2 ** failures,
        failures,
      });
      this.warn(
        `could not read the results of batch ${shard.batchId} (shard ${shard.name}); retrying: ${describe(error)}`,
      );
      return;
    }
    this.collectBackoff.delete(shard.name);
    const counters = addCounters(this.counters, result);
    delivered = addCounters(delivered, result);
    this.o.state.recordDelivery({
      runId: this.runId,
      key,
      checkpoints,
      counters,
      shard: { name: shard.name, patch: { status: "collected" } },
      retryShard: result.retryShard ?? undefined,
    });
    this.counters = counters;
    shard.status = "collected";
    this.inFlightCounts.delete(shard.name);
    if (result.retryShard) this.shards.set(result.retryShard.name, result.retryShard);
    this.o.emit({
      type: "shard_collected",
      run: this.runId,
      shard: shard.name,
      batchId: shard.batchId,
      status: batch?.status ?? "missing",
      succeeded: delivered.succeeded,
      failed: delivered.failed,
      retried: delivered.retried,
      unexpected: delivered.unexpected,
      missing: delivered.missing,
    });
    this.progress(true);
  }

  // --- reconciliation after a crash ---

  private async tryReconcile(): Promise<void> {
    try {
      await this.reconcileIntents();
      this.needsReconcile = false;
    } catch (error) {
      if (this.o.signal.aborted) throw interrupted();
      if (fatalProviderError(error)) throw error;
      this.warn(
        `could not check the provider for interrupted uploads or batches; retrying: ${describe(error)}`,
      );
    }
  }

  private async reconcileIntents(): Promise<void> {
    await withCallSignal(this.o.signal, (signal) => this.reconcileWith(signal));
  }

  private async reconcileWith(signal: AbortSignal): Promise<void> {
    const since = this.o.run.createdAt - RECONCILE_MARGIN_MS;
    const uploading = this.sorted("uploading");
    if (uploading.length > 0) {
      const wanted = new Map(uploading.map((s) => [this.uploadName(s), s]));
      for await (const file of this.o.provider.listFiles({ purpose: "batch", signal })) {
        if (file.created_at * 1000 < since) break;
        const shard = wanted.get(file.filename);
        if (shard && file.bytes === shard.bytes && !shard.fileId) {
          this.patch(shard, { fileId: file.id });
          wanted.delete(file.filename);
        }
        if (wanted.size === 0) break;
      }
      for (const shard of uploading) this.patch(shard, { status: "pending" });
    }
    const submitting = this.sorted("submitting");
    if (submitting.length > 0) {
      const wanted = new Map(submitting.map((s) => [`${s.name}#${s.submission}`, s]));
      for await (const batch of this.o.provider.listBatches({ signal })) {
        if (batch.created_at * 1000 < since) break;
        const m = batch.metadata;
        if (!m || m.batchpipe_run !== this.runId) continue;
        const shard = wanted.get(`${m.batchpipe_shard}#${m.batchpipe_attempt}`);
        if (shard) {
          this.opened(shard, batch, true);
          wanted.delete(`${m.batchpipe_shard}#${m.batchpipe_attempt}`);
        }
        if (wanted.size === 0) break;
      }
      // not found: the create never reached the provider; it is made again with the same metadata
      for (const shard of wanted.values()) await this.create(shard, false);
    }
  }

  // --- submission ---

  private async submitEligible(): Promise<void> {
    this.submitAgain = false;
    for (const shard of [...this.sorted("pending"), ...this.sorted("queued")].sort(
      (a, b) => a.seq - b.seq || a.attempt - b.attempt,
    )) {
      this.checkSignal();
      if (this.budgetBlocked) return;
      if (!this.queueAllows(shard)) continue;
      if (!this.rateAllows()) return;
      if (!this.costAllows(shard)) return;
      try {
        if (!shard.fileId) await this.upload(shard);
        await this.create(shard, true);
      } catch (error) {
        if (this.o.signal.aborted) throw interrupted();
        if (fatalProviderError(error)) throw error;
        this.warn(`could not submit shard ${shard.name}; retrying later: ${describe(error)}`);
        this.needsReconcile = true;
        return;
      }
      // one submission per turn: the loop polls and collects in between and comes straight back,
      // so delivering ended batches overlaps the provider's work instead of waiting for every upload
      this.submitAgain = true;
      return;
    }
  }

  private queueAllows(shard: ShardRow): boolean {
    const waiting = this.queuedAt.get(shard.name);
    const inFlight = this.inFlightTokens(shard.model);
    if (waiting) {
      const ended = this.endedByModel.get(shard.model) ?? 0;
      // wait for a batch of this model to end; with none in flight, wait a growing delay instead
      const delay = this.spec.batch.poll_interval * Math.min(2 ** waiting.waits, 64);
      if (ended <= waiting.ended && !(inFlight === 0 && Date.now() >= waiting.at + delay)) return false;
    }
    if (inFlight === 0) return true;
    return inFlight + shard.tokens <= this.budget(shard.model);
  }

  private budget(model: string): number {
    const configured = this.spec.batch.max_enqueued_tokens ?? Number.POSITIVE_INFINITY;
    return Math.min(configured, this.learnedBudget.get(model) ?? Number.POSITIVE_INFINITY);
  }

  private inFlightTokens(model: string, except?: string): number {
    let total = 0;
    for (const s of this.shards.values()) {
      if (s.model === model && s.name !== except && (s.status === "open" || s.status === "submitting"))
        total += s.tokens;
    }
    return total;
  }

  private rateAllows(): boolean {
    const cutoff = Date.now() - HOUR;
    while (this.creations.length > 0 && this.creations[0]! < cutoff) this.creations.shift();
    return this.creations.length < CREATIONS_PER_HOUR;
  }

  private costAllows(shard: ShardRow): boolean {
    const max = this.spec.batch.max_cost;
    if (max === null) return true;
    let projected = this.counters.cost + this.shardCost(shard);
    for (const s of this.shards.values())
      if (s.status === "open" || s.status === "ended") projected += this.shardCost(s);
    if (projected <= max) return true;
    this.budgetBlocked = true;
    this.o.emit({
      type: "budget_exceeded",
      run: this.runId,
      shard: shard.name,
      spent: this.counters.cost,
      projected,
      maxCost: max,
    });
    return false;
  }

  private shardCost(shard: ShardRow): number {
    return (
      estimateCost({ model: shard.model, inputTokens: shard.tokens, outputTokens: shard.outputTokens }) ?? 0
    );
  }

  private budgetError(): BatchpipeError {
    return new BatchpipeError(
      ErrorCodes.BUDGET_EXCEEDED,
      `the next batch would take the run past batch.max_cost ($${this.spec.batch.max_cost}); spent so far $${this.counters.cost.toFixed(4)}`,
      { hint: "Raise batch.max_cost and run again: the run resumes where it stopped." },
    );
  }

  private uploadName(shard: ShardRow): string {
    return `batchpipe-${this.spec.name}-${this.runId}-${shard.name}.jsonl`;
  }

  private async upload(shard: ShardRow): Promise<void> {
    this.patch(shard, { status: "uploading" });
    const file = await withCallSignal(this.o.signal, (signal) =>
      this.o.provider.uploadFile(path.join(this.o.stateDir, shard.file), {
        filename: this.uploadName(shard),
        signal,
      }),
    );
    this.patch(shard, { status: "pending", fileId: file.id });
    this.o.emit({ type: "shard_uploaded", run: this.runId, shard: shard.name, fileId: file.id });
  }

  /** create a batch for the shard; `fresh` makes a new submission number (a new intent) */
  private async create(shard: ShardRow, fresh: boolean): Promise<void> {
    const submission = fresh ? shard.submission + 1 : shard.submission;
    const wasQueued = shard.status === "queued";
    this.patch(shard, { status: "submitting", submission });
    const result = await withCallSignal(this.o.signal, (signal) =>
      this.o.provider.createBatch(
        {
          input_file_id: shard.fileId!,
          endpoint: shard.endpoint,
          completion_window: this.spec.batch.completion_window,
          metadata: {
            batchpipe_name: this.spec.name,
            batchpipe_run: this.runId,
            batchpipe_shard: shard.name,
            batchpipe_attempt: String(submission),
          },
        },
        { signal },
      ),
    );
    if ("queueFull" in result) {
      this.refused(shard, result.message);
      return;
    }
    if (wasQueued) this.queuedAt.delete(shard.name);
    this.opened(shard, result.batch, !fresh);
  }

  private opened(shard: ShardRow, batch: BatchInfo, adopted: boolean): void {
    const createdAt = Date.now();
    this.creations.push(createdAt);
    this.counters.batches++;
    this.o.state.saveCounters(this.runId, this.counters);
    this.patch(shard, { status: "open", batchId: batch.id, batchStatus: batch.status, createdAt });
    this.timing.set(shard.name, {
      nextPollAt: Date.now() + this.spec.batch.poll_interval,
      interval: this.spec.batch.poll_interval,
      lastKey: "",
    });
    this.o.emit({
      type: "shard_submitted",
      run: this.runId,
      shard: shard.name,
      batchId: batch.id,
      submission: shard.submission,
      adopted,
    });
    if (TERMINAL_STATUSES.has(batch.status)) this.ended(shard, batch);
  }

  /** the provider's queue refused the shard: not an error, no attempt spent; wait and resubmit */
  private refused(shard: ShardRow, message: string): void {
    const inFlight = this.inFlightTokens(shard.model, shard.name);
    if (inFlight > 0) {
      this.learnedBudget.set(shard.model, Math.min(this.budget(shard.model), inFlight));
      this.o.state.setValue("learned_budgets", JSON.stringify(Object.fromEntries(this.learnedBudget)));
    }
    const previous = this.queuedAt.get(shard.name);
    this.queuedAt.set(shard.name, {
      ended: this.endedByModel.get(shard.model) ?? 0,
      at: Date.now(),
      waits: (previous?.waits ?? 0) + 1,
    });
    this.counters.queueRefusals++;
    this.o.state.saveCounters(this.runId, this.counters);
    this.patch(shard, { status: "queued", batchId: null, batchStatus: null });
    this.timing.delete(shard.name);
    this.o.emit({
      type: "queue_full",
      run: this.runId,
      shard: shard.name,
      model: shard.model,
      inFlightTokens: inFlight,
      message,
    });
  }

  // --- tracking ---

  private async pollDue(): Promise<void> {
    const now = Date.now();
    const due = this.sorted("open").filter((s) => (this.timing.get(s.name)?.nextPollAt ?? 0) <= now);
    for (let i = 0; i < due.length; i += 8) {
      this.checkSignal();
      await Promise.all(due.slice(i, i + 8).map((s) => this.pollOne(s)));
    }
  }

  private async pollOne(shard: ShardRow): Promise<void> {
    const timing = this.timing.get(shard.name) ?? {
      nextPollAt: 0,
      interval: this.spec.batch.poll_interval,
      lastKey: "",
    };
    this.timing.set(shard.name, timing);
    const base = this.spec.batch.poll_interval;
    const maxInterval = Math.max(base, Math.min(base * 10, 10 * 60_000));
    let batch: BatchInfo | null;
    try {
      batch = await withCallSignal(this.o.signal, (signal) =>
        this.o.provider.retrieveBatch(shard.batchId!, { signal }),
      );
    } catch (error) {
      if (this.o.signal.aborted) return;
      if (fatalProviderError(error)) throw error;
      timing.interval = Math.min(timing.interval * 2, maxInterval);
      timing.nextPollAt = Date.now() + timing.interval;
      this.warn(`could not poll batch ${shard.batchId}: ${describe(error)}`);
      return;
    }
    if (batch === null) {
      this.warn(
        `batch ${shard.batchId} (shard ${shard.name}) disappeared from the provider; its requests are retried`,
      );
      this.ended(shard, null);
      return;
    }
    const key = `${batch.status}:${batch.request_counts.completed}:${batch.request_counts.failed}`;
    if (key !== timing.lastKey) {
      timing.lastKey = key;
      timing.interval = base;
      this.inFlightCounts.set(shard.name, batch.request_counts);
      if (batch.status !== shard.batchStatus) this.patch(shard, { batchStatus: batch.status });
      this.o.emit({
        type: "batch_status",
        run: this.runId,
        shard: shard.name,
        batchId: batch.id,
        status: batch.status,
        counts: batch.request_counts,
      });
    } else {
      timing.interval = Math.min(Math.ceil(timing.interval * 1.5), maxInterval);
    }
    timing.nextPollAt = Date.now() + timing.interval;
    if (TERMINAL_STATUSES.has(batch.status)) {
      this.ended(shard, batch);
      return;
    }
    // never declared dead before its window ends; past it (plus grace) it is cancelled, then collected
    if (
      batch.expires_at &&
      Date.now() > batch.expires_at * 1000 + EXPIRY_GRACE_MS &&
      batch.status !== "cancelling"
    ) {
      this.warn(`batch ${batch.id} is past its window; cancelling it to collect what it finished`);
      await this.o.provider.cancelBatch(batch.id).catch(() => undefined);
    }
  }

  private ended(shard: ShardRow, batch: BatchInfo | null): void {
    this.endedByModel.set(shard.model, (this.endedByModel.get(shard.model) ?? 0) + 1);
    this.timing.delete(shard.name);
    if (batch && batch.status === "failed" && batch.errors.some((e) => e.code === "token_limit_exceeded")) {
      const message =
        batch.errors.find((e) => e.code === "token_limit_exceeded")?.message ?? "token_limit_exceeded";
      this.refused(shard, message);
      return;
    }
    this.patch(shard, {
      status: "ended",
      batchStatus: batch?.status ?? "missing",
      note: JSON.stringify(batch),
    });
  }

  // --- cancellation ---

  private checkCancel(): void {
    if (this.cancelling) return;
    const run = this.o.state.getRun(this.runId);
    if (!run?.cancelRequested) return;
    this.cancelling = true;
    this.warn(
      "the run was cancelled: open batches are cancelled, finished results delivered, the rest fails as batch_cancelled",
    );
    for (const shard of [...this.sorted("pending"), ...this.sorted("queued"), ...this.sorted("uploading")]) {
      const cancelled = {
        id: "",
        status: "cancelled",
        errors: [],
        output_file_id: null,
        error_file_id: null,
      } as unknown as BatchInfo;
      this.patch(shard, { status: "ended", batchStatus: "cancelled", note: JSON.stringify(cancelled) });
    }
    for (const shard of this.sorted("open")) {
      void this.o.provider.cancelBatch(shard.batchId!).catch(() => undefined);
    }
  }

  // --- helpers ---

  private patch(shard: ShardRow, patch: Partial<ShardRow>): void {
    Object.assign(shard, patch);
    this.o.state.updateShard(this.runId, shard.name, patch);
  }

  private sorted(status: ShardStatus): ShardRow[] {
    return [...this.shards.values()]
      .filter((s) => s.status === status)
      .sort((a, b) => a.seq - b.seq || a.attempt - b.attempt);
  }

  private remaining(): number {
    let n = 0;
    for (const s of this.shards.values()) if (s.status !== "collected" && s.status !== "skipped") n++;
    return n;
  }

  private openCount(): number {
    return this.sorted("open").length + this.sorted("submitting").length;
  }

  private endedCount(): number {
    return this.sorted("ended").length;
  }

  private nextWake(): number {
    if (this.submitAgain) return 0;
    const now = Date.now();
    let next = now + this.spec.batch.poll_interval;
    for (const t of this.timing.values()) next = Math.min(next, t.nextPollAt);
    for (const b of this.collectBackoff.values()) next = Math.min(next, b.at);
    if (!this.rateAllows()) next = Math.max(next, (this.creations[0] ?? now) + HOUR);
    return Math.max(10, Math.min(next - now, 1000));
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      const signal = this.o.signal;
      function done() {
        clearTimeout(timer);
        signal.removeEventListener("abort", done);
        resolve();
      }
      signal.addEventListener("abort", done, { once: true });
    });
  }

  private checkSignal(): void {
    if (this.o.signal.aborted) throw interrupted();
  }

  private warn(message: string): void {
    this.o.emit({ type: "warning", run: this.runId, message });
  }

  snapshot(): ProgressSnapshot {
    const shards: Partial<Record<ShardStatus, number>> = {};
    for (const s of this.shards.values()) shards[s.status] = (shards[s.status] ?? 0) + 1;
    const inFlight = { completed: 0, failed: 0, total: 0 };
    for (const c of this.inFlightCounts.values()) {
      inFlight.completed += c.completed;
      inFlight.failed += c.failed;
      inFlight.total += c.total;
    }
    const total = this.o.run.totals?.read ?? 0;
    const done = this.counters.succeeded + this.counters.failed;
    const elapsedMs = Date.now() - this.startedAt;
    const progressed = done + inFlight.completed + inFlight.failed - this.doneAtStart;
    const eta = progressed > 0 && total > done ? Math.round(((total - done) * elapsedMs) / progressed) : null;
    return {
      run: this.runId,
      shards,
      done,
      total,
      succeeded: this.counters.succeeded,
      failed: this.counters.failed,
      inputTokens: this.counters.inputTokens,
      outputTokens: this.counters.outputTokens,
      cost: this.counters.cost,
      inFlight,
      eta,
      elapsedMs,
    };
  }

  private progress(force: boolean): void {
    const now = Date.now();
    if (!force && now - this.lastProgress < 250) return;
    this.lastProgress = now;
    this.o.emit({ type: "progress", snapshot: this.snapshot() });
  }

  /** provider file ids to delete at clean-up */
  fileIds(): string[] {
    const ids = new Set<string>();
    for (const s of this.shards.values()) {
      if (s.fileId) ids.add(s.fileId);
      const batch = s.note ? (JSON.parse(s.note) as BatchInfo | null) : null;
      if (batch?.output_file_id) ids.add(batch.output_file_id);
      if (batch?.error_file_id) ids.add(batch.error_file_id);
    }
    return [...ids];
  }
}

function addCounters(counters: RunCounters, delta: Partial<CollectResult>): RunCounters {
  const next = structuredClone(counters);
  next.succeeded += delta.succeeded ?? 0;
  next.failed += delta.failed ?? 0;
  for (const [code, n] of Object.entries(delta.failedByCode ?? {}))
    next.failedByCode[code] = (next.failedByCode[code] ?? 0) + n;
  next.retried += delta.retried ?? 0;
  next.unexpected += delta.unexpected ?? 0;
  next.missing += delta.missing ?? 0;
  next.inputTokens += delta.inputTokens ?? 0;
  next.outputTokens += delta.outputTokens ?? 0;
  next.cost += delta.cost ?? 0;
  return next;
}

function fatalProviderError(error: unknown): boolean {
  if (!(error instanceof BatchpipeError)) return true;
  if (error.code !== ErrorCodes.PROVIDER_FAILED) return true;
  const status = (error as { status?: number }).status;
  return status === 400 || status === 401 || status === 403 || status === 404 || status === 422;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
