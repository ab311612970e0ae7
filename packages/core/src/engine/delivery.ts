/**
 * Delivery: rows reach every sink, and one state transaction records the sinks' new checkpoints
 * with the counters (and the shard's new status): that record is the commit point. A delivery cut
 * short (a crash, a failed download) is done again from the last recorded part.
 */
import fs from "node:fs";
import path from "node:path";
import { cachedResults, isFromCache } from "../cache/cached-shard.js";
import { type BatchpipeError, ErrorCodes, isBatchpipeError } from "../errors.js";
import { livePricesFor, pricesFor } from "../estimate/pricing.js";
import type { FailureRow } from "../plugin.js";
import { checkedOutput } from "../plugins/contract.js";
import type { ShardRow } from "../state/index.js";
import { type CollectOptions, type CollectResult, collectShard, resultsGone } from "./collect.js";
import { addCounters, countFailure, emptyCounters, type RunCounters } from "./counters.js";
import { isAnsweredLive, liveResults } from "./live-fallback.js";
import {
  describeError,
  type LoopContext,
  providerAnswered,
  providerCall,
  providerFailed,
  retryDelay,
  warn,
} from "./loop-context.js";
import { interrupted, prepFailuresFile, readFileLines, tookId } from "./read/index.js";
import { SinkSet } from "./sink-set.js";

export interface DeliveryOptions {
  /** per sink call */
  pluginTimeoutMs?: number;
  /** requests per delivery part */
  partSize: number;
  /** called after each committed part */
  onPart?(): void;
}

export type CollectOutcome =
  | { ok: true; delivered: RunCounters; retryShard: ShardRow | null }
  /** the results could not be read this time (the caller retries later) */
  | { ok: false; error: unknown };

/** downloads (or polls) answering 404/410 in a row before a batch's results (or the batch) are taken as gone */
export const GONE_TRIES = 3;

export class Delivery {
  private sinks: SinkSet | undefined;
  /** per shard whose collection failed: when to try again, after how many failures (`gone`: 404/410 in a row) */
  private readonly backoff = new Map<string, { at: number; failures: number; gone: number }>();
  /** the read's failures were handed to the sinks (keepUnsentFailures) */
  private unsentKept = false;

  constructor(
    private readonly ctx: LoopContext,
    private readonly options: DeliveryOptions,
  ) {}

  async open(): Promise<void> {
    this.sinks = await SinkSet.open({
      pipeline: this.ctx.pipeline,
      state: this.ctx.state,
      runId: this.ctx.runId,
      logger: this.ctx.logger,
      signal: this.ctx.signal,
      pluginTimeoutMs: this.options.pluginTimeoutMs,
    });
    // the read's failures may have reached the sinks before a crash: a success must not drop them
    if (this.ctx.state.getRun(this.ctx.runId)?.status !== "reading") await this.keepUnsentFailures();
  }

  /**
   * An errors sink that keeps rows across runs drops an id's failure rows when it succeeds
   * (SinkHandle.forget), except this run's failures of records never sent: a duplicate_id shares its
   * id with the success of its first occurrence. Their ids, once the read has written them all.
   */
  private async keepUnsentFailures(): Promise<void> {
    const sinks = this.sinks!;
    if (this.unsentKept || !sinks.clearsFailures) return;
    this.unsentKept = true;
    const ids = new Set<string>();
    const file = path.join(this.ctx.stateDir, prepFailuresFile(this.ctx.runId));
    if (fs.existsSync(file)) {
      for await (const line of readFileLines(file))
        if (line !== "") ids.add((JSON.parse(line) as FailureRow).id);
    }
    sinks.keepFailures(ids);
  }

  /** a sink that fails to close is said (a warning), not a failed run: its rows are committed */
  async close(): Promise<void> {
    const failures = (await this.sinks?.close()) ?? [];
    this.sinks = undefined;
    for (const message of failures) warn(this.ctx, message, ErrorCodes.PLUGIN_FAILED);
  }

  /**
   * The failure rows of records that never became requests (written by the read phase). A result
   * sink that keeps rows across runs drops its rows of those that took their id (an earlier run's
   * success, SinkHandle.forget): no record of this run succeeds under such an id (tookId).
   */
  async prepFailures(): Promise<void> {
    await this.keepUnsentFailures();
    const { ctx } = this;
    const key = `${ctx.runId}:prep`;
    if (ctx.state.delivered(key)) return;
    const file = path.join(ctx.stateDir, prepFailuresFile(ctx.runId));
    const sinks = this.sinks!;
    await sinks.begin(key, { forget: (row) => tookId(row as FailureRow, ctx.pipeline.dir) });
    // added to the run's counters once committed: a submission in flight counts its batch meanwhile
    const delta = emptyCounters();
    if (fs.existsSync(file)) {
      for await (const line of readFileLines(file)) {
        if (line === "") continue;
        const row = JSON.parse(line) as FailureRow;
        countFailure(delta, row);
        await sinks.write(row);
      }
    }
    const checkpoints = await sinks.commit(key);
    const counters = addCounters(ctx.counters, delta);
    ctx.state.recordDelivery({ runId: ctx.runId, key, checkpoints, counters });
    ctx.counters = counters;
  }

  /** whether a collection of the shard may be tried now (not backing off after a failure) */
  due(shard: ShardRow): boolean {
    return (this.backoff.get(shard.name)?.at ?? 0) <= Date.now();
  }

  /** the earliest time a failed collection is tried again, or undefined */
  retryAt(): number | undefined {
    let at: number | undefined;
    for (const b of this.backoff.values()) at = Math.min(at ?? b.at, b.at);
    return at;
  }

  /**
   * Collect an ended shard and deliver its rows, part by part. On success the shard is `collected`
   * and its retry shard (if any) recorded in the same transaction; on failure it is tried again
   * after a capped backoff.
   */
  async collect(
    shard: ShardRow,
    o: Pick<CollectOptions, "noRetry" | "deadlinePassed">,
  ): Promise<CollectOutcome> {
    const outcome = await this.collectOnce(shard, {
      noRetry: o.noRetry,
      deadlinePassed: o.deadlinePassed,
      acceptGone: (this.backoff.get(shard.name)?.gone ?? 0) + 1 >= GONE_TRIES,
    });
    const before = this.backoff.get(shard.name);
    if (outcome.ok) this.backoff.delete(shard.name);
    else {
      const failures = (before?.failures ?? 0) + 1;
      const gone = resultsGone(outcome.error) ? (before?.gone ?? 0) + 1 : 0;
      this.backoff.set(shard.name, { at: Date.now() + retryDelay(this.ctx, failures + 1), failures, gone });
    }
    return outcome;
  }

  /** a cache that cannot store does not hold up the delivery of paid results: said once, and the run goes on */
  private async flushCache(): Promise<void> {
    try {
      await this.ctx.cache?.flush();
    } catch (error) {
      const { message, hint } = error as BatchpipeError;
      this.ctx.logger.warn(
        `${message}. This run goes on without storing its results: they are delivered, and a later run pays for them again.${hint ? ` ${hint}` : ""}`,
      );
    }
  }

  private async collectOnce(
    shard: ShardRow,
    o: Pick<CollectOptions, "noRetry" | "deadlinePassed" | "acceptGone">,
  ): Promise<CollectOutcome> {
    const { ctx } = this;
    const key = `${ctx.runId}:${shard.name}`;
    const { partSize } = this.options;
    // a part is recorded by how many requests the delivery has routed at its end, not by its number:
    // a run resuming it may have another part size (EngineTuning.deliveryPartSize)
    const partKey = (end: number) => `${key}@${end}`;
    // the part a sink begins: the last one is committed under the shard's key, and a sink that
    // answers `committed` must be asked about the key its commit will have
    const partStart = (end: number) => (end >= shard.requests ? key : partKey(end));
    const routedDone = Math.max(ctx.state.deliveredThrough(key), legacyPartsDone(ctx, key) * partSize);
    // the successes of a shard answered live were paid at live prices: the report says how many
    const tally = (d: RunCounters) => (isAnsweredLive(shard.batch) ? { ...d, answeredLive: d.succeeded } : d);
    // a part's successes are committed to the cache with its rows, before the delivery is recorded:
    // a crash in between leaves an extra entry (harmless), never a recorded result missing from it
    const commit = async (sinks: SinkSet, at: string) =>
      (await Promise.all([this.flushCache(), sinks.commit(at)]))[1];
    /** what this collection delivered, for the event */
    let delivered = emptyCounters();
    let result: CollectResult;
    let checkpoints: Awaited<ReturnType<SinkSet["commit"]>>;
    try {
      const sinks = this.sinks!;
      await sinks.begin(partStart(routedDone + partSize), { forget: everyRow });
      result = await providerCall(ctx, (signal) =>
        collectShard({
          // a shard answered through the live API after batch.deadline: its answers, at live prices
          ...(isAnsweredLive(shard.batch)
            ? { provider: liveResults(ctx.stateDir), prices: livePricesFor(ctx.pipeline.spec.pricing) }
            : isFromCache(shard.batch)
              ? { provider: cachedResults(ctx.stateDir) }
              : { provider: ctx.provider, prices: pricesFor(ctx.pipeline.spec.pricing) }),
          output: checkedOutput(ctx.pipeline.provider.plugin),
          maxAttempts: ctx.pipeline.spec.batch.max_attempts,
          stateDir: ctx.stateDir,
          shard,
          batch: shard.batch,
          fanout: ctx.state.fanoutFor(ctx.runId, shard.root),
          noRetry: o.noRetry,
          deadlinePassed: o.deadlinePassed,
          acceptGone: o.acceptGone,
          sinks,
          signal,
          partSize,
          routedDone,
          remember: ctx.cache && ((digest, result, cost) => ctx.cache!.add(digest, result, cost)),
          commitPart: async (end, partDelta) => {
            const delta = tally(partDelta);
            const checkpoints = await commit(sinks, partKey(end));
            const counters = addCounters(ctx.counters, delta);
            ctx.state.recordDelivery({ runId: ctx.runId, key: partKey(end), checkpoints, counters });
            ctx.counters = counters;
            delivered = addCounters(delivered, delta);
            await sinks.begin(partStart(end + partSize), { forget: everyRow });
            this.options.onPart?.();
          },
        }),
      );
      checkpoints = await commit(sinks, key);
    } catch (error) {
      // rows written past the last recorded checkpoint must go: reopen every sink at its checkpoint
      await this.close();
      const reopenFailure = await this.open().then(
        () => undefined,
        (reopen: unknown) => reopen,
      );
      if (ctx.signal.aborted) throw interrupted();
      // the run stops on what went wrong, not on a reopen that failed after it (a database server
      // still down once the write lost its connection)
      if (
        isBatchpipeError(error) &&
        error.code !== ErrorCodes.PROVIDER_FAILED &&
        error.code !== ErrorCodes.PROVIDER_UNREACHABLE
      )
        throw error;
      if (reopenFailure !== undefined) throw reopenFailure;
      // a provider error counts towards an outage (and a fatal one, e.g. a revoked key, stops the run)
      if (isBatchpipeError(error) && !resultsGone(error)) providerFailed(ctx, error);
      warn(
        ctx,
        `could not read the results of batch ${shard.batchId} (shard ${shard.name}); retrying: ${describeError(error)}`,
      );
      return { ok: false, error };
    }
    providerAnswered(ctx);
    if (result.unavailable !== null) {
      warn(
        ctx,
        `the results of batch ${shard.batchId} (shard ${shard.name}) could not be read (${result.unavailable}); its unread requests get a new attempt`,
      );
    }
    const counters = addCounters(ctx.counters, tally(result.counters));
    delivered = addCounters(delivered, tally(result.counters));
    ctx.state.recordDelivery({
      runId: ctx.runId,
      key,
      checkpoints,
      counters,
      shard: { name: shard.name, patch: { status: "collected" } },
      retryShard: result.retryShard ?? undefined,
    });
    ctx.counters = counters;
    shard.status = "collected";
    return { ok: true, delivered, retryShard: result.retryShard };
  }
}

/** a collection's rows all make the other role's rows of their id stale (SinkSet.begin) */
const everyRow = () => true;

/**
 * The parts of a delivery cut short by a build that numbered them (`key#p0`, `key#p1`…): they are
 * taken to have this run's part size, the default unless tuned.
 */
function legacyPartsDone(ctx: LoopContext, key: string): number {
  let parts = 0;
  while (ctx.state.delivered(`${key}#p${parts}`)) parts++;
  return parts;
}
