/**
 * Collection of one ended batch: stream the provider's results, join each to the shard's request
 * by id, route every request to exactly one outcome (success, final failure, or a retry shard) and
 * write the rows to the sinks. Requests without a result get one from how the batch ended. The
 * result is deterministic for a given batch, so a delivery interrupted by a crash is done again.
 */
import path from "node:path";
import { isFromCache } from "../cache/cached-shard.js";
import { type CachedResult, UNPRICED } from "../cache/index.js";
import { ErrorCodes, isBatchpipeError } from "../errors.js";
import { estimateCost, type ModelPrice } from "../estimate/pricing.js";
import type { FailureRow, ProviderPlugin, RecordPosition, ResultRow, SuccessRow } from "../plugin.js";
import type { BatchSnapshot, CutReason, ProviderConnection, ResultItem } from "../provider/contract.js";
import type { FanoutRow, ShardRow } from "../state/index.js";
import type { ShardMeta } from "./codecs/shard-meta.js";
import { countFailure, emptyCounters, type RunCounters } from "./counters.js";
import { isAnsweredLive } from "./live-fallback.js";
import { PartLog, partLogFile } from "./part-log.js";
import { writeRetryShard } from "./retry-shard.js";
import { type MetaEntry, ShardMetaIndex } from "./shard-meta-index.js";

export interface CollectOptions {
  /** where the batch's results come from */
  provider: Pick<ProviderConnection, "results">;
  /** the provider plugin's `output` */
  output: ProviderPlugin["output"];
  /** batch.max_attempts */
  maxAttempts: number;
  /** batch prices per model (the built-in table with the spec's `pricing:`); default the built-in table */
  prices?: Readonly<Record<string, ModelPrice>>;
  stateDir: string;
  shard: ShardRow;
  /** the ended batch; null when it disappeared from the provider or was never created */
  batch: BatchSnapshot | null;
  fanout: FanoutRow[];
  /** the run is being cancelled: nothing is retried */
  noRetry: boolean;
  /**
   * batch.deadline has passed: a request a cancelled batch left undone (batch_cancelled) was never
   * executed, so it goes live in a retry shard whatever batch.max_attempts says
   */
  deadlinePassed?: boolean;
  /**
   * Results answering 404/410 are taken as gone (their unread requests get a new attempt); until
   * then such an answer is thrown like any failed download (it may be a passing glitch).
   */
  acceptGone: boolean;
  /** where rows go (successes to the sinks, failures to the error sinks) */
  sinks: { write(row: ResultRow): Promise<void> };
  signal: AbortSignal;
  /** requests per delivery part, so that no sink buffers a whole shard */
  partSize: number;
  /**
   * The parts of the first `routedDone` requests (in the batch's order) were committed before: a
   * resumed collection re-derives them without writing. `commitPart` commits the part that ends
   * after `end` requests and records it with the counters it added.
   */
  routedDone: number;
  commitPart(end: number, delta: RunCounters): Promise<void>;
  /**
   * The result cache's write side: each success delivered (not re-derived) from a paid batch, with
   * its request digest and what it cost (UNPRICED: not known); the caller stores them before it
   * commits the part.
   */
  remember?(digest: readonly number[], result: CachedResult, cost: number): void;
}

export interface CollectResult {
  /** what the last, uncommitted part added */
  counters: RunCounters;
  retryShard: ShardRow | null;
  /** why the batch's results could not be read (gone at the provider); its unread requests were retried */
  unavailable: string | null;
}

/** failures held back while a batch's results are read (a later success for the id wins); past it, first seen wins */
const HELD_FAILURES = 50_000;

/** the status of a batch given up on as stuck (polling.ts): it has no results to read */
export const STUCK_STATUS = "stuck";

/** the code of a request its batch's cancel left undone (the providers' own results use it too) */
const CANCELLED = "batch_cancelled";

/** a request's outcome: a result of the provider's, or one made up for a request without any */
type Outcome = Exclude<ResultItem, { kind: "unreadable" }>;

export async function collectShard(options: CollectOptions): Promise<CollectResult> {
  const metas = await ShardMetaIndex.load(path.join(options.stateDir, options.shard.metaFile));
  try {
    return await collectWith(options, metas);
  } finally {
    metas.close();
  }
}

async function collectWith(options: CollectOptions, metas: ShardMetaIndex): Promise<CollectResult> {
  const { shard, batch } = options;
  const fanout = groupFanout(options.fanout);
  /**
   * a retryable failure gets a retry shard: while the request has attempts left (those a deadline's
   * cancel left unspent are not counted), or undone at the deadline's cancel
   */
  const retries = (outcome: Extract<Outcome, { kind: "failure" }>, meta: ShardMeta) =>
    outcome.retryable &&
    !options.noRetry &&
    (shard.attempt - (meta.unspent ?? 0) < options.maxAttempts ||
      (options.deadlinePassed === true && outcome.error.code === CANCELLED));
  const fromCache = isFromCache(batch);
  let counters = emptyCounters();
  const seen = new Set<string>();
  const retry = new Set<number>();
  /** of `retry`: undone at the deadline's cancel, never run: its attempt is not spent */
  const unspent = new Set<number>();
  const logFile = path.join(options.stateDir, partLogFile(shard.file));
  const log = new PartLog(logFile);
  const retryLater = (index: number, outcome: Extract<Outcome, { kind: "failure" }>) => {
    retry.add(index);
    const notSpent = options.deadlinePassed === true && outcome.error.code === CANCELLED;
    if (notSpent) unspent.add(index);
    if (live()) log.retried(index, notSpent);
  };
  let routed = 0;
  /** false while re-deriving parts committed before a crash: no writes, no counting */
  const live = () => routed >= options.routedDone;

  const route = async (entry: MetaEntry, outcome: Outcome) => {
    if (live()) {
      log.routed(entry.index);
      await deliver(entry, outcome);
    } else if (outcome.kind === "failure" && retries(outcome, entry.meta())) retryLater(entry.index, outcome);
    routed++;
    // parts are counted from where the last run's ended (its part size may have been another);
    // the last part is the delivery's own commit, under the shard's key (see Delivery)
    const partEnds = routed > options.routedDone && (routed - options.routedDone) % options.partSize === 0;
    if (partEnds && routed < shard.requests) {
      log.end(routed);
      await options.commitPart(routed, counters);
      counters = emptyCounters();
    }
  };

  const deliver = async (entry: MetaEntry, outcome: Outcome) => {
    const meta = entry.meta();
    if (outcome.kind === "success") {
      const success = successOf(options, meta, outcome, counters);
      if (success.ok) {
        if (!fromCache) {
          const { response, usage, model } = outcome;
          options.remember?.(meta.requestDigest, { response, usage, model }, success.cost ?? UNPRICED);
        }
        const cut = success.cut;
        for (const target of targets(meta, fanout)) {
          counters.succeeded++;
          // an answer cut short is delivered as it is (partial output) and counted per record
          if (cut !== undefined) counters.cutByReason[cut] = (counters.cutByReason[cut] ?? 0) + 1;
          await options.sinks.write({
            ...success.row,
            id: target.id,
            input: target.input,
            source: target.source,
          });
        }
        return;
      }
      outcome = success.failure;
    }
    if (retries(outcome, meta)) {
      retryLater(entry.index, outcome);
      counters.retried++;
      return;
    }
    for (const target of targets(meta, fanout)) {
      const row: FailureRow = {
        id: target.id,
        status: "failed",
        error: outcome.error,
        attempts: shard.attempt - (meta.unspent ?? 0),
        batch_id: batch?.id ?? shard.batchId,
        input: target.input,
        source: target.source,
      };
      countFailure(counters, row);
      await options.sinks.write(row);
    }
  };

  // a shard never submitted (the run was cancelled first) or given up as stuck has no results to
  // read; one answered through the live API after batch.deadline has its answers instead
  let unavailable: string | null = null;
  /** the results the counts promise were absent every time: unread requests are missing, not gone */
  let absent = false;
  // a shard the run was cancelled before submitting was never sent
  const sent = batch === null || Boolean(shard.batchId || isAnsweredLive(batch) || isFromCache(batch));
  // a failure is held until the results end (up to HELD_FAILURES): a success for the same id,
  // wherever it comes, wins (it was paid for); the order of routing stays the same on every read
  const held = new Map<string, { entry: MetaEntry; item: Outcome }>();
  if (batch && sent && batch.status !== STUCK_STATUS) {
    try {
      for await (const item of options.provider.results(batch, { signal: options.signal })) {
        const found = item.kind === "unreadable" ? undefined : lookUp(metas, item);
        const conflict = found && item.kind === "failure" && held.has(found.id);
        if (item.kind === "unreadable" || !found || seen.has(found.id) || conflict) {
          if (live()) counters.unexpected++;
          continue;
        }
        if (item.kind === "failure" && held.size < HELD_FAILURES) {
          held.set(found.id, { entry: found.entry, item });
          continue;
        }
        // a success over a failure held for its id: the failure line is the unexpected one
        if (held.delete(found.id) && live()) counters.unexpected++;
        seen.add(found.id);
        await route(found.entry, item);
      }
    } catch (error) {
      // results that stay gone (404/410) never come back: what was not read gets a new attempt
      if (!options.acceptGone || !resultsGone(error)) throw error;
      unavailable = (error as Error).message;
      absent = (error as { resultsAbsent?: boolean }).resultsAbsent === true;
    }
  }
  for (const [id, { entry, item }] of held) {
    seen.add(id);
    await route(entry, item);
  }
  // results gone before the committed parts were re-derived: the log says what those parts routed
  // (delivered, or sent to the retry shard), so they are neither sent nor delivered again
  if (unavailable !== null && !live())
    routed += PartLog.takeCommitted(logFile, options.routedDone, metas.entries(), { seen, retry, unspent });

  // requests without a result: a batch error about their line, or how the batch ended
  const lineErrors = new Map<number, { code: string; message: string }>();
  for (const error of batch?.errors ?? []) if (error.line !== null) lineErrors.set(error.line, error);
  for (const [id, entry] of metas.entries()) {
    if (seen.has(id)) continue;
    const lineError = lineErrors.get(entry.index + 1);
    // a missing line is one the provider's results lacked, not a request never sent (nor one a
    // live pass stopped by a cancel never sent), nor one of a batch that vanished (null: no results
    // to lack it; its requests are counted as retried)
    const unsent = isAnsweredLive(batch) && batch?.ending === "cancelled";
    if (!lineError && batch && sent && !unsent && live()) counters.missing++;
    await route(
      entry,
      lineError
        ? { kind: "failure", id, error: { ...lineError, status_code: null }, retryable: false }
        : unavailable !== null && !absent
          ? {
              kind: "failure",
              id,
              error: {
                code: "results_unavailable",
                message: `the batch's results could not be read: ${unavailable}`,
                status_code: null,
              },
              retryable: true,
            }
          : missingOutcome(id, batch, absent ? unavailable : null),
    );
  }

  const retryShard =
    retry.size > 0
      ? await writeRetryShard({ stateDir: options.stateDir, shard, metas, retry, unspent })
      : null;
  return { counters, retryShard, unavailable };
}

/** a result download answered 404/410 */
export function resultsGone(error: unknown): boolean {
  if (!isBatchpipeError(error) || error.code !== ErrorCodes.PROVIDER_FAILED) return false;
  const status = (error as { status?: number }).status;
  return status === 404 || status === 410;
}

/**
 * the success row's common part (the caller sets each target's id, input and source), with its cost
 * counted (null: paid at a price batchpipe does not know)
 */
function successOf(
  options: CollectOptions,
  meta: ShardMeta,
  outcome: Extract<Outcome, { kind: "success" }>,
  counters: RunCounters,
):
  | { ok: true; row: SuccessRow; cost: number | null; cut: CutReason | undefined }
  | { ok: false; failure: Extract<Outcome, { kind: "failure" }> } {
  const { shard } = options;
  const usage = outcome.usage;
  const model = outcome.model ?? (shard.model || null);
  let cost: number | null = 0;
  // a result from the cache was paid for in an earlier run: this run spends no tokens on it
  if (usage && !isFromCache(options.batch)) {
    counters.inputTokens += usage.input_tokens;
    counters.outputTokens += usage.output_tokens;
    const priced = estimateCost({
      model: shard.model || model || "",
      inputTokens: usage.input_tokens,
      outputTokens: usage.output_tokens,
      cachedTokens: usage.cached_tokens,
      cacheWriteTokens: usage.cache_creation_tokens,
      cacheWrite1hTokens: usage.cache_creation_1h_tokens,
      prices: options.prices,
    });
    // a model without a known price: its tokens were paid, at a price batchpipe cannot tell
    if (priced === null) counters.unpriced++;
    else counters.cost += priced;
    cost = priced;
  }
  const output = options.output(outcome.response, {
    endpoint: shard.endpoint,
    json: meta.jsonOutput,
  });
  if (!output.ok) {
    return {
      ok: false,
      failure: {
        kind: "failure",
        id: outcome.id,
        error: { code: "invalid_json_output", message: output.message, status_code: null },
        retryable: false,
      },
    };
  }
  const row: SuccessRow = {
    id: meta.id,
    status: "success",
    output: output.output,
    response: outcome.response,
    usage,
    model,
    batch_id: options.batch?.id ?? shard.batchId,
    attempts: shard.attempt - (meta.unspent ?? 0),
    input: meta.input,
    source: meta.source,
  };
  return { ok: true, row, cost, cut: output.cut };
}

/** the request a result answers: by its line in the shard file when the provider gives it, else by id */
function lookUp(metas: ShardMetaIndex, item: Outcome): { id: string; entry: MetaEntry } | undefined {
  if (item.index !== undefined) return metas.at(item.index);
  const entry = metas.get(item.id);
  return entry && { id: item.id, entry };
}

/** `absent`: why the results the batch's counts promise could not be read */
function missingOutcome(id: string, batch: BatchSnapshot | null, absent: string | null = null): Outcome {
  const failure = (code: string, message: string): Outcome => ({
    kind: "failure",
    id,
    error: { code, message, status_code: null },
    retryable: true,
  });
  if (!batch)
    return failure("batch_missing", "the batch disappeared from the provider before its results were read");
  switch (batch.ending) {
    case "expired":
      return failure("batch_expired", "the request was not executed before the completion window expired");
    case "cancelled":
      return failure(CANCELLED, "the batch was cancelled before the request was executed");
    case "failed": {
      const first = batch.errors[0];
      return failure(first?.code ?? "batch_failed", first?.message ?? "the batch failed");
    }
    default:
      return failure(
        "missing_result",
        `the ${batch.status} batch has no result for this request${absent ? ` (${absent})` : ""}`,
      );
  }
}

interface Target {
  id: string;
  input: Record<string, unknown>;
  source: RecordPosition;
}

/** the request's own record, then the records whose identical request it answers */
function* targets(meta: ShardMeta, fanout: Map<string, FanoutRow[]>): Generator<Target> {
  yield { id: meta.id, input: meta.input, source: meta.source };
  for (const row of fanout.get(String(meta.rootIndex)) ?? []) {
    yield { id: row.recordId, input: JSON.parse(row.input), source: JSON.parse(row.source) };
  }
}

function groupFanout(rows: FanoutRow[]): Map<string, FanoutRow[]> {
  const byCanonical = new Map<string, FanoutRow[]>();
  for (const row of rows) {
    const list = byCanonical.get(row.canonical) ?? [];
    list.push(row);
    byCanonical.set(row.canonical, list);
  }
  return byCanonical;
}
