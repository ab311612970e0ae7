/**
 * The read phase: source → transform → shard files on disk, streaming, in constant memory.
 *
 * The read runs beside the run loop (streaming submission): a shard sealed and committed by a
 * checkpoint is visible to the loop, which may submit it while the source is still being read. So
 * a duplicate custom_id fails its record (`duplicate_id`), and an identical request fans out only
 * to a root whose collection has not begun, or waits for it and takes its cached result.
 *
 * This file is the loop; each record takes one pass through `place` (ending in `placeCached` or
 * `placeNew` when it becomes a shard entry). The jobs around it have their own modules:
 * checkpoints.ts and resume.ts (a read that stops continues from its last checkpoint),
 * duplicates.ts, estimator.ts, limits-check.ts (a model's context window and output limit),
 * prep-failures.ts (records that never became requests) and
 * shard-writer.ts; the formats written are in ../codecs/ (fanout-gate.ts: identical requests).
 */
import path from "node:path";
import { setImmediate as nextTurn } from "node:timers/promises";
import { cachedEntry, isFromCache } from "../../cache/cached-shard.js";
import { type CacheHit, type CacheLookup, UNPRICED } from "../../cache/index.js";
import { isBatchpipeError } from "../../errors.js";
import type { EstimateMode } from "../../estimate/estimate-tokens.js";
import { estimateOutputTokens } from "../../estimate/index.js";
import { livePricesFor, pricesFor } from "../../estimate/pricing.js";
import {
  isInvalidRecord,
  type Logger,
  type RecordPosition,
  type SourceItem,
  type SourceRecord,
} from "../../plugin.js";
import { checkCursor, checkTransformHandle } from "../../plugins/contract.js";
import type { FanoutBatch, RunTotals, ShardRow } from "../../state/index.js";
import type { ReadCheckpoint } from "../codecs/read-checkpoint.js";
import type { EnginePipeline } from "../types.js";
import {
  CheckpointCommits,
  type CommitCheckpoint,
  DEFAULT_CHECKPOINT_EVERY,
  readIdentity,
} from "./checkpoints.js";
import { createEstimator } from "./estimator.js";
import { type FanoutGate, FanoutRows } from "./fanout-gate.js";
import { syncFiles } from "./files.js";
import { createLimitsCheck, type MayNotFit } from "./limits-check.js";
import { failureRows, prepFailuresFile } from "./prep-failures.js";
import { failedRead, fmt, guardSource, interrupted, toRequest } from "./read-errors.js";
import { emptyTotals, sumCosts } from "./read-totals.js";
import { CoveredRecords, openRead, type ReadResume, ReadStartsOver } from "./resume.js";
import { requestTooLarge, type ShardEntry, shardLimits, shardName } from "./shard-writer.js";
import { encodeRequest, recordJson, tooDeep } from "./too-deep.js";

export interface ReadPhaseOptions {
  pipeline: EnginePipeline;
  stateDir: string;
  runId: string;
  signal: AbortSignal;
  logger: Logger;
  /** the caller shows `mayNotFit` itself (plan): the read does not warn about it */
  quietMayNotFit?: boolean;
  estimate?: EstimateMode;
  onProgress?(records: number): void;
  /** records between checkpoints (default 10,000) */
  checkpointEvery?: number;
  /**
   * Make a checkpoint durable: `checkpoint` with the shards sealed and the identical requests found
   * since the previous one, in one transaction. Without it checkpoints only drop the fan-out rows.
   */
  onCheckpoint?: CommitCheckpoint;
  /** continue the read after the last checkpoint of an earlier attempt */
  resume?: ReadResume;
  /** false: a failure will not keep the state (the source restarted instead of resuming) */
  resumable?: boolean;
  /**
   * The result cache: a request found there is not sent but answered from it (a cached shard,
   * cache/cached-shard.ts). Undefined: everything is sent (--no-cache, or the cache is empty).
   */
  cache?: CacheLookup;
  /** RunOptions.deliveredBefore */
  deliveredBefore?: (id: string) => string | undefined;
  /** the run loop is uploading: the read gives it a turn every 32 records (the first batch sooner) */
  urgent?(): boolean;
  /** identical requests while the run loop collects (with onCheckpoint) */
  gate?: FanoutGate;
}

export interface ReadPhaseResult {
  totals: RunTotals;
  /** every shard, in order (those recorded by checkpoints included) */
  shards: ShardRow[];
  /** identical requests found since the last checkpoint */
  fanout: FanoutBatch[];
  /** failure rows of records that never became requests (JSONL, relative to the state dir) */
  failuresFile: string;
  /** the estimated cost of the requests to send at live prices (plan's batch.deadline worst case); null when a price is unknown */
  liveCost: number | null;
  /** requests sent though their estimated input may not fit their model's context window (of this read) */
  mayNotFit: MayNotFit;
  /**
   * The models of each shard (by seq) whose batches mix models (its `model` is ""), in the order
   * met; of this read only (a resumed read knows those it placed itself). For plan's table.
   */
  shardModels: Map<number, string[]>;
}

export async function runReadPhase(options: ReadPhaseOptions): Promise<ReadPhaseResult> {
  const { pipeline, stateDir, runId, signal, logger, resume } = options;
  const saved = resume?.checkpoint;
  const every = options.checkpointEvery ?? DEFAULT_CHECKPOINT_EVERY;
  const provider = pipeline.provider;
  const providerLimits = provider.plugin.limits(provider.options);
  const limits = shardLimits(pipeline.spec.batch, providerLimits);
  const batchKey = new Set(providerLimits.batchKey);
  const resolvePath = (p: string) => path.resolve(pipeline.dir, p);
  const { writer, failures, duplicates, requests, closeTables } = openRead({
    stateDir,
    dir: pipeline.dir,
    runId,
    limits,
    resume,
  });
  // holds the calibration's tokenizer tables only while it calibrates (or estimates exactly)
  const estimator = createEstimator(options.estimate, saved?.estimator);
  const totals: RunTotals = saved ? { ...saved.totals } : emptyTotals();
  const costByModel = new Map<string, { input: number; output: number }>(saved?.costByModel ?? []);
  const shardModels = new Map<number, Set<string>>();
  /** a request of `model` was placed in shard `seq`: remembered when the shard's batches mix models */
  const placedModel = (seq: number, entry: ShardEntry, model: string) => {
    if (entry.model !== "" || model === "") return;
    const models = shardModels.get(seq);
    if (models) models.add(model);
    else shardModels.set(seq, new Set([model]));
  };
  const fanout = new FanoutRows();
  const commits = new CheckpointCommits(
    options.onCheckpoint ?? (() => undefined),
    resume && { checkpoint: resume.checkpoint, sealed: resume.sealed.length },
  );
  const identity = readIdentity(pipeline);
  /** shards answered from the result cache (by seq): a record identical to one of theirs is cached too */
  const cachedShards = new Set<number>([
    ...(resume?.sealed ?? []).filter((s) => isFromCache(s.batch)).map((s) => s.seq),
    ...(saved?.writer.open ?? []).filter((s) => s.cached).map((s) => s.seq),
  ]);
  // shards sealed up to the last checkpoint (the run loop may submit those)
  let committedCount = writer.sealed.length;
  const gate = options.gate;
  // a cursor-less source restarted after shards were sent: what its checkpoint covers is skipped
  const covered = new CoveredRecords(pipeline.source.label, saved, resume?.skip === true);
  let first: RecordPosition | null = saved?.first ?? null;
  let yielded = 0;
  let lastTurn = performance.now();
  // every request is looked up only when the cache had entries at the start (a lookup costs ~4–8 µs)
  const lookUpAll = (options.cache?.size ?? 0) > 0;

  const modelLimits = createLimitsCheck(pipeline.spec.model_limits);

  const rows = failureRows(pipeline.dir);
  const fail = (line: string) => failures.write(`${line}\n`);

  const stamp = pipeline.source.plugin.stampCursor;
  const checkpoint = async (last: SourceItem) => {
    // once per checkpoint: the source may add what its resume checks (a sample of the file)
    const cursor =
      stamp && options.onCheckpoint && last.cursor !== undefined ? await stamp(last.cursor) : last.cursor;
    // stored as JSON and handed back to read(): one JSON cannot hold is refused, not lost
    checkCursor({ ...last, cursor }, pipeline.source.label);
    const found = fanout.take();
    if (!options.onCheckpoint) return;
    const shards = writer.checkpoint();
    const state: ReadCheckpoint = {
      identity,
      read: totals.read,
      source: cursor === undefined ? null : { cursor },
      first,
      ...(last.cursor === undefined ? { records: covered.hash } : {}),
      totals: { ...totals },
      costByModel: [...costByModel].map(([model, c]) => [model, { ...c }]),
      estimator: estimator.state(),
      writer: shards.state,
      failuresBytes: failures.flushed(),
    };
    const files = [...shards.files, path.join(stateDir, prepFailuresFile(runId))];
    await commits.save(state, files, writer.sealed, found);
    committedCount = writer.sealed.length;
  };

  let transformLabel: string | undefined;
  try {
    const transform = checkTransformHandle(
      await pipeline.transform.plugin.create({
        options: pipeline.transform.options,
        resolvePath,
        logger,
        signal,
      }),
      pipeline.transform.label,
    );
    transformLabel = pipeline.transform.label;

    /** takes the record's custom_id; the failure row of a duplicate when an earlier record has it */
    const duplicateOf = (item: SourceRecord, id: string, input: string): string | undefined => {
      const message = duplicates.claim(id, item.position, options.deliveredBefore);
      return message === undefined
        ? undefined
        : rows.rejected(item, { code: "duplicate_id", message, id }, input);
    };

    /** one record: a failure row, a duplicate id, a request identical to one placed, or a new request */
    const place = (item: SourceItem) => {
      if (isInvalidRecord(item)) {
        totals.invalid++;
        fail(rows.invalid(item));
        return;
      }
      // the record's data as JSON, once: what a shard's meta, a fan-out row or a failure row holds
      const input = recordJson(item.data);
      if (input === undefined) {
        totals.invalid++;
        fail(rows.invalid(tooDeep(item)));
        return;
      }
      const request = toRequest(transform, item, pipeline.transform.label);
      if (isBatchpipeError(request)) {
        totals.rejected++;
        // a refused record takes its id too: the first occurrence wins, so no later record of the
        // run succeeds under the id whose earlier rows its failure makes stale (Delivery.prepFailures)
        const id = request.recordId;
        fail(
          (id && duplicateOf(item, id, input)) ||
            rows.rejected(item, { code: request.code, message: request.message, id }, input),
        );
        return;
      }
      const id = request.custom_id;
      const duplicate = duplicateOf(item, id, input);
      if (duplicate !== undefined) {
        totals.rejected++;
        fail(duplicate);
        return;
      }

      const encoded = encodeRequest(provider, request);
      if (encoded === undefined) {
        totals.rejected++;
        fail(rows.rejected(item, { ...tooDeep(item, "its request").invalid, id }, input));
        return;
      }
      const { line, model, json, digest, inputs } = encoded;
      const bytes = Buffer.byteLength(line) + 1;
      const inputTokens = estimator.estimate(model, request);
      const outputTokens = estimateOutputTokens(request.body, { url: request.url });
      const tooLarge = requestTooLarge(limits, { bytes, inputTokens, inputs });
      if (tooLarge) {
        totals.rejected++;
        fail(rows.rejected(item, { code: "request_too_large", message: tooLarge, id }, input));
        return;
      }
      const overLimit = modelLimits.failure(id, model, inputTokens, request.body);
      if (overLimit?.fail) {
        totals.rejected++;
        fail(rows.rejected(item, { code: overLimit.code, message: overLimit.message, id }, input));
        return;
      }
      const same = requests.get(digest);
      // a root whose collection began cannot deliver more fan-out rows (fanout-gate.ts)
      if (same && (gate?.canFanOut(shardName(same.shard)) ?? true)) {
        totals.identical++;
        if (cachedShards.has(same.shard)) totals.cachedRecords = (totals.cachedRecords ?? 0) + 1;
        const root = shardName(same.shard);
        gate?.added(root);
        fanout.add(root, {
          canonical: String(same.index),
          recordId: id,
          input,
          source: JSON.stringify(item.position),
        });
        return;
      }
      const entry: ShardEntry = {
        model: batchKey.has("model") ? model : "",
        endpoint: batchKey.has("endpoint") ? request.url : "",
        line,
        bytes,
        inputTokens,
        outputTokens,
        inputs,
        id,
        requestDigest: digest,
        jsonOutput: json,
        input,
        source: item.position,
      };
      // --- result cache (cache/): a request that succeeded in an earlier run is not sent again, nor
      // one identical to a request whose collection began in this run (its result may be cached now)
      const hit = lookUpAll || same ? options.cache?.get(digest) : undefined;
      if (hit) return placeCached(entry, hit, model);
      // its twin is being collected (a resumed run collects the batches that ended meanwhile while
      // it reads): wait for that to end and take its result, instead of paying for it again
      const collecting =
        same && options.cache ? gate?.whileCollecting(shardName(same.shard), signal) : undefined;
      if (collecting)
        return collecting.then(() => {
          const late = options.cache?.get(digest);
          return late ? placeCached(entry, late, model) : placeNew(entry, model);
        });
      // --- end result cache
      placeNew(entry, model);
    };

    const placeCached = (entry: ShardEntry, hit: CacheHit, model: string) => {
      const placed = writer.add(cachedEntry(entry, hit));
      placedModel(placed.seq, entry, model);
      requests.set(entry.requestDigest, placed.seq, placed.index);
      cachedShards.add(placed.seq);
      totals.cached = (totals.cached ?? 0) + 1;
      totals.cachedRecords = (totals.cachedRecords ?? 0) + 1;
      if (hit.cost === UNPRICED) totals.cachedUnpriced = (totals.cachedUnpriced ?? 0) + 1;
      else totals.cachedCost = (totals.cachedCost ?? 0) + hit.cost;
    };

    const placeNew = (entry: ShardEntry, model: string) => {
      const { requestDigest: digest, inputTokens, outputTokens } = entry;
      const placed = writer.add(entry);
      placedModel(placed.seq, entry, model);
      requests.set(digest, placed.seq, placed.index);
      totals.requests++;
      totals.estimatedInputTokens += inputTokens;
      totals.estimatedOutputTokens += outputTokens;
      const perModel = costByModel.get(model) ?? { input: 0, output: 0 };
      perModel.input += inputTokens;
      perModel.output += outputTokens;
      costByModel.set(model, perModel);
    };

    const records = guardSource(
      pipeline.source.plugin.read({
        options: pipeline.source.options,
        resolvePath,
        logger,
        signal,
        checkpoint: saved?.source ? saved.source.cursor : undefined,
      }),
      pipeline.source.label,
    );
    for await (const item of records) {
      if (covered.skips(item)) continue;
      yielded++;
      if (first === null) first = item.position;
      else if (yielded === 1 && saved && !resume?.skip && samePosition(item.position, first)) {
        throw new ReadStartsOver(
          `${pipeline.source.label} yielded its first record again instead of resuming after record ${fmt(saved.read)}`,
          true,
        );
      }
      totals.read++;
      const waiting = place(item);
      if (waiting) await waiting;
      // a shard is committed (and so submittable) as soon as it is sealed, a slow source's too; so
      // are fan-out rows a collection waits for
      const early = writer.sealed.length > committedCount || gate?.wantCheckpoint === true;
      if (totals.read % every === 0 || early) {
        await checkpoint(item);
        if (signal.aborted) throw interrupted();
      }
      if (totals.read % PROGRESS_EVERY === 0) {
        options.onProgress?.(totals.read);
        if (signal.aborted) throw interrupted();
      }
      // the run loop shares this thread: its polls, uploads and deliveries get a turn every few
      // ms (an upload moves a chunk or two per turn, so a long slice would starve it)
      if (totals.read % 32 === 0 && (options.urgent?.() || performance.now() - lastTurn > TURN_MS)) {
        await nextTurn();
        lastTurn = performance.now();
      }
    }
    covered.ended();
    // the last checkpoint is committed before the caller records the end of the read
    await commits.settle();
  } catch (error) {
    writer.abort();
    // a checkpoint still in flight lands first (the caller may forget the read next)
    await commits.settle().catch(() => undefined);
    if (error instanceof ReadStartsOver) throw error;
    throw failedRead(error, {
      resumable: options.resumable !== false,
      recorded: commits.recorded,
      recordedCursor: commits.recordedCursor,
      transform: transformLabel,
      resumedWithoutRecord: saved !== undefined && yielded === 0,
    });
  } finally {
    failures.close();
    estimator.close();
    closeTables();
  }
  // the last shards and the failures written since the last checkpoint are durable before the
  // caller records the end of the read (a read that records nothing, a plan's, syncs nothing)
  const { shards, files: unsynced } = writer.finish();
  if (options.onCheckpoint) await syncFiles([...unsynced, path.join(stateDir, prepFailuresFile(runId))]);
  totals.shards = shards.length;
  const mayNotFitWarning = modelLimits.warning();
  if (mayNotFitWarning && !options.quietMayNotFit) logger.warn(mayNotFitWarning);
  totals.estimatedCost = sumCosts(costByModel, pricesFor(pipeline.spec.pricing));
  totals.estimatedLiveCost = sumCosts(costByModel, livePricesFor(pipeline.spec.pricing));
  options.onProgress?.(totals.read);
  return {
    totals,
    shards,
    fanout: fanout.take(),
    failuresFile: prepFailuresFile(runId),
    liveCost: totals.estimatedLiveCost,
    mayNotFit: modelLimits.mayNotFit,
    shardModels: new Map([...shardModels].map(([seq, models]) => [seq, [...models]])),
  };
}

const PROGRESS_EVERY = 10_000;
/** the longest the read keeps the thread before the run loop gets a turn */
const TURN_MS = 2;

function samePosition(a: RecordPosition, b: RecordPosition): boolean {
  return a.file === b.file && a.line === b.line;
}
