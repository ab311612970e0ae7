/**
 * `batch.deadline`: once a run passes it, its open batches are cancelled once, and every request
 * that still has no result (the shards never submitted, and what a cancelled batch left undone,
 * which comes back as a retry shard) is sent through the provider's live API instead of a batch.
 *
 * Exactly once: a shard goes live only while no batch of it is open, so a request answered by its
 * batch after all is delivered from that batch and never sent again. Each live answer is appended
 * to the shard's live file (with the request's index in the shard) before anything is delivered;
 * after a crash only the requests without an answer there are sent, and the file is then collected
 * like a batch's results, at live prices.
 */
import fs from "node:fs";
import path from "node:path";
import { BatchpipeError, ErrorCodes } from "../errors.js";
import { averageCost, livePricesFor, pricesFor, shardCost } from "../estimate/pricing.js";
import type { BatchSnapshot, LiveResult, ProviderConnection, ResultItem } from "../provider/contract.js";
import { ProviderError } from "../provider/http-retry.js";
import type { RunTotals, ShardRow } from "../state/index.js";
import {
  emitBudgetExceeded,
  type LoopContext,
  optionalCallFailed,
  patchShard,
  providerAnswered,
  providerCall,
  providerFailed,
  shardsIn,
  waitingShards,
  warn,
} from "./loop-context.js";
import { interrupted, readFileLines } from "./read/index.js";
import { budgetExceeded, projectedSpend } from "./scheduler.js";
import { cancelRequested } from "./submission.js";

/** the provider status word of a shard answered through the live API */
export const ANSWERED_LIVE = "answered_live";
/** live calls in flight at once */
const CONCURRENCY = 8;
/** how often a live pass looks for a cancel of the run */
const CANCEL_CHECK_MS = 250;
/** shards whose batch may still deliver results (and spend) */
const BUSY = ["open", "submitting", "ended"] as const;

export class Deadline {
  /** ms since the epoch; null without batch.deadline */
  readonly at: number | null;
  private passedAt: number | null = null;
  /** answering a shard live would pass batch.max_cost (said once) */
  private overBudget = false;

  /** `totals`: the read's, once it has ended (a shard that mixes models is priced by their average) */
  constructor(
    private readonly ctx: LoopContext,
    private readonly totals: () => RunTotals | null,
  ) {
    const ms = ctx.pipeline.spec.batch.deadline;
    this.at = ms === null ? null : ctx.runCreatedAt + ms;
    if (this.at !== null && !ctx.provider.live) {
      throw new BatchpipeError(
        ErrorCodes.USAGE,
        `batch.deadline is set but the ${ctx.pipeline.provider.label} has no live API to finish late work with`,
        { hint: "Remove batch.deadline, or use a provider with live calls (openai, emulator)." },
      );
    }
  }

  get passed(): boolean {
    return this.passedAt !== null;
  }

  /** the deadline has come at `now` and check() has not yet acted on it */
  due(now: number): boolean {
    return this.at !== null && !this.passed && now >= this.at;
  }

  /** once, when the deadline passes: every open batch is asked to stop */
  async check(now: number): Promise<void> {
    if (!this.due(now)) return;
    this.passedAt = now;
    const open = shardsIn(this.ctx, "open");
    const waiting = waitingShards(this.ctx);
    warn(
      this.ctx,
      `the run passed batch.deadline: ${count(open.length, "open batch", "open batches")} cancelled, and the requests without a result (${count(waiting.length, "shard")} not submitted, and what the cancelled batches leave undone) go through the live API, at live prices`,
    );
    for (const shard of open) {
      const startedAt = Date.now();
      try {
        const ref = { id: shard.batchId!, data: shard.batch?.data ?? null };
        await providerCall(this.ctx, (signal) => this.ctx.provider.cancel(ref, { signal }));
        providerAnswered(this.ctx);
      } catch (error) {
        if (this.ctx.signal.aborted) throw interrupted();
        // an outage: past batch.max_outage the run stops here (state saved; a rerun cancels again)
        optionalCallFailed(
          this.ctx,
          error,
          startedAt,
          `could not cancel batch ${shard.batchId} at the deadline`,
        );
      }
    }
  }

  /**
   * Past the deadline: the next shard without a batch is answered live; false when none is left.
   * batch.max_cost holds as before a batch: a shard whose live cost would pass it waits for the
   * open batches to be collected, then the run stops with BUDGET_EXCEEDED (raised, it resumes).
   */
  async answerNext(): Promise<boolean> {
    const shard = waitingShards(this.ctx)[0];
    if (!shard) return false;
    const projected = this.projectedCost(shard);
    if (projected !== null) {
      if (!this.overBudget) emitBudgetExceeded(this.ctx, projected);
      this.overBudget = true;
      if (BUSY.some((status) => shardsIn(this.ctx, status).length > 0)) return false;
      throw budgetExceeded(this.ctx.pipeline.spec.batch.max_cost, this.ctx.counters.cost);
    }
    if (this.ctx.outage.retryAt > Date.now()) return false;
    const startedAt = Date.now();
    const { batch, down, answered, cancelled } = await this.answer(shard);
    if (this.ctx.signal.aborted) throw interrupted();
    if (cancelled) {
      // what was answered is delivered; the rest fails as batch_cancelled, as a cancelled batch's
      patchShard(this.ctx, shard, {
        status: "ended",
        batchId: null,
        batchStatus: "cancelled",
        batch: { ...batch, ending: "cancelled" },
      });
      return false;
    }
    if (answered) providerAnswered(this.ctx);
    if (down) {
      // an outage, not the records' failure: what has no answer waits and is sent again (up to
      // batch.max_outage, then the run stops with its state saved)
      providerFailed(this.ctx, outageError(down), startedAt);
      const wait = Math.max(0, Math.round((this.ctx.outage.retryAt - Date.now()) / 1000));
      warn(
        this.ctx,
        `the live API did not answer shard ${shard.name} (${down.error.code}: ${down.error.message}); its requests without an answer are sent again in ${wait} s`,
      );
      return false;
    }
    patchShard(this.ctx, shard, { status: "ended", batchId: null, batchStatus: batch.status, batch });
    return true;
  }

  /**
   * batch.max_cost as the scheduler checks it before a batch, at live prices: what was spent, plus
   * the open batches, plus the shard. The projection when it passes the cap, else null.
   */
  private projectedCost(shard: ShardRow): number | null {
    const { spec } = this.ctx.pipeline;
    const totals = this.totals();
    const max = spec.batch.max_cost;
    if (max === null) return null;
    const batchPrices = pricesFor(spec.pricing);
    const projected = projectedSpend(
      this.ctx.counters.cost + liveShardCost(shard, totals, livePricesFor(spec.pricing)),
      this.ctx.shards.values(),
      (s) => shardCost(s, totals, batchPrices) ?? 0,
    );
    return projected > max ? projected : null;
  }

  /**
   * Send every request of the shard that has no live answer yet; returns the shard's "batch", or
   * `down`, the first answer that says the API is down (the others then take no new request).
   */
  private async answer(
    shard: ShardRow,
  ): Promise<{ batch: BatchSnapshot; down: LiveFailure | undefined; answered: boolean; cancelled: boolean }> {
    const { ctx } = this;
    const live = ctx.provider.live!;
    const file = liveFile(ctx.stateDir, shard);
    const kept = await keepCompleteAnswers(file);
    const out = fs.openSync(file, "a", 0o600);
    const lines = readFileLines(path.join(ctx.stateDir, shard.file))[Symbol.asyncIterator]();
    let down: LiveFailure | undefined;
    let answered = false;
    // `batchpipe cancel` (another process) is recorded in the state: looked at every CANCEL_CHECK_MS
    let cancelled = false;
    let checkedAt = Date.now();
    try {
      let index = 0;
      const next = async (): Promise<{ index: number; line: string } | null> => {
        for (;;) {
          const { value, done } = await lines.next();
          if (done) return null;
          if (value === "") continue;
          const i = index++;
          if (!kept.has(i)) return { index: i, line: value };
        }
      };
      /** a worker's call threw, or the API is down: the others take no new job, and their calls in flight are kept */
      let failed = false;
      const worker = async () => {
        for (let job = await next(); job !== null; job = await next()) {
          if (ctx.signal.aborted || failed) return;
          if (Date.now() - checkedAt >= CANCEL_CHECK_MS) {
            checkedAt = Date.now();
            cancelled ||= cancelRequested(ctx);
          }
          if (cancelled) return;
          const result: LiveResult = await providerCall(ctx, (signal) => live(job.line, { signal }));
          if (result.kind === "failure" && apiDown(result)) {
            down ??= result;
            failed = true;
            return;
          }
          answered = true;
          // joined by its line in the shard, as batch results of providers with ids of their own are
          fs.writeSync(
            out,
            `${JSON.stringify({ index: job.index, result: { ...result, index: job.index } })}\n`,
          );
        }
      };
      // every worker settles before `out` is closed: one still in its call when another failed
      // wrote its answer to a closed descriptor (lost, and paid again on the next run)
      const settled = await Promise.allSettled(
        Array.from({ length: CONCURRENCY }, () =>
          worker().catch((error: unknown) => {
            failed = true;
            throw error;
          }),
        ),
      );
      fs.fsyncSync(out);
      const failure = settled.find((r) => r.status === "rejected");
      if (failure) throw failure.reason;
    } finally {
      fs.closeSync(out);
      // the shard file's handle, when the workers stopped before its end (aborted, or a call failed)
      await lines.return?.(undefined);
    }
    // rows answered this way show batch_id "live"
    const batch = answeredLocally("live", ANSWERED_LIVE, { live: path.relative(ctx.stateDir, file) });
    return { batch, down, answered, cancelled };
  }
}

export function isAnsweredLive(batch: BatchSnapshot | null): boolean {
  return batch?.status === ANSWERED_LIVE;
}

/**
 * The "batch" of a shard answered without one (live calls, or the result cache): ended, its
 * answers in a file of `{ result }` lines named by `data` (liveResults reads them).
 */
export function answeredLocally(id: string, status: string, data: Record<string, string>): BatchSnapshot {
  return {
    id,
    data,
    state: "ended",
    status,
    ending: "completed",
    queueFull: null,
    counts: null,
    errors: [],
    createdAt: null,
    expiresAt: null,
  };
}

/** reads a live shard's answers (or, with `field` "cache", a cached shard's) back as the results of a batch */
export function liveResults(stateDir: string, field = "live"): Pick<ProviderConnection, "results"> {
  return {
    async *results(batch) {
      const file = (batch.data as Record<string, unknown> | null)?.[field];
      if (typeof file !== "string") return;
      for await (const line of readFileLines(path.join(stateDir, file))) {
        if (line !== "") yield (JSON.parse(line) as { result: ResultItem }).result;
      }
    },
  };
}

/**
 * A shard's estimated cost at live prices (0 when unknown); a shard that mixes models (model "")
 * costs the run's live average per request.
 */
function liveShardCost(
  shard: ShardRow,
  totals: RunTotals | null,
  prices: Parameters<typeof shardCost>[2],
): number {
  if (shard.model !== "") return shardCost(shard, totals, prices) ?? 0;
  const live = totals?.estimatedLiveCost;
  // a run of an older version recorded the batch average only: live prices are twice it
  if (!totals || live === undefined) return 2 * averageCost(totals) * shard.requests;
  return averageCost({ estimatedCost: live, requests: totals.requests }) * shard.requests;
}

type LiveFailure = Extract<LiveResult, { kind: "failure" }>;

/**
 * The answer says the API is down or busy, not that the request failed: no answer at all (the
 * provider's own retries spent), rate limited, overloaded or unavailable.
 */
function apiDown(result: LiveFailure): boolean {
  const status = result.error.status_code;
  if (status === null) return result.error.code === "connection_error";
  return (
    status === 408 || status === 429 || status === 502 || status === 503 || status === 504 || status === 529
  );
}

function outageError(down: LiveFailure): ProviderError {
  const status = down.error.status_code ?? undefined;
  return new ProviderError({
    route: "live call",
    message: `live call: ${down.error.code}: ${down.error.message}`,
    hint: "Check that provider.base_url is reachable; the run goes on once the provider answers.",
    status,
    attempts: 1,
  });
}

function liveFile(stateDir: string, shard: ShardRow): string {
  return path.join(stateDir, shard.file.replace(/\.jsonl$/, ".live.jsonl"));
}

/** the indexes already answered; a line cut short by a crash is dropped */
async function keepCompleteAnswers(file: string): Promise<Set<number>> {
  const answered = new Set<number>();
  if (!fs.existsSync(file)) return answered;
  const size = fs.statSync(file).size;
  let complete = 0;
  for await (const line of readFileLines(file)) {
    const bytes = Buffer.byteLength(line) + 1;
    // the last line has no newline: a write the crash cut short
    if (complete + bytes > size) break;
    complete += bytes;
    if (line !== "") answered.add((JSON.parse(line) as { index: number }).index);
  }
  if (complete < size) fs.truncateSync(file, complete);
  return answered;
}

function count(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}
