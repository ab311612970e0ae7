/**
 * The read phase: source → transform → shard files on disk, streaming, in constant memory.
 *
 * The read runs beside the run loop (streaming submission): a shard sealed and committed by a
 * checkpoint is visible to the loop, which may submit it while the source is still being read. So
 * a duplicate custom_id fails its record (`duplicate_id`), and an identical request fans out only
 * to a root whose collection has not begun, or waits for it and takes its cached result.
 *
 * This file is the loop: each record takes one pass through RecordPlacement.place (placement.ts:
 * a failure row, a duplicate id, an identical request, a cached or a new shard entry). The jobs
 * around it have their own modules: checkpoints.ts and resume.ts (a read that stops continues from
 * its last checkpoint), duplicates.ts, estimator.ts, limits-check.ts (a model's context window and
 * output limit), prep-failures.ts (records that never became requests) and shard-writer.ts; the
 * formats written are in ../codecs/ (fanout-gate.ts: identical requests).
 */
import path from "node:path";
import { setImmediate as nextTurn } from "node:timers/promises";
import type { CacheLookup } from "../../cache/index.js";
import type { EstimateMode } from "../../estimate/estimate-tokens.js";
import type { Logger, RecordPosition, SourceItem } from "../../plugin.js";
import { checkCursor, createTransform } from "../../plugins/contract.js";
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
import { RecordPlacement } from "./placement.js";
import { prepFailuresFile } from "./prep-failures.js";
import { failedRead, fmt, guardSource, interrupted } from "./read-errors.js";
import { emptyTotals } from "./read-totals.js";
import { CoveredRecords, openRead, type ReadResume, ReadStartsOver } from "./resume.js";
import { shardLimits } from "./shard-writer.js";

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
  const limits = shardLimits(pipeline.spec.batch, pipeline.provider.plugin.limits(pipeline.provider.options));
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
  const fanout = new FanoutRows();
  const commits = new CheckpointCommits(
    options.onCheckpoint ?? (() => undefined),
    resume && { checkpoint: resume.checkpoint, sealed: resume.sealed.length },
  );
  const identity = readIdentity(pipeline);
  // shards sealed up to the last checkpoint (the run loop may submit those)
  let committedCount = writer.sealed.length;
  const gate = options.gate;
  // a cursor-less source restarted after shards were sent: what its checkpoint covers is skipped
  const covered = new CoveredRecords(pipeline.source.label, saved, resume?.skip === true);
  let first: RecordPosition | null = saved?.first ?? null;
  let yielded = 0;
  let lastTurn = performance.now();
  const modelLimits = createLimitsCheck(pipeline.spec.model_limits);
  let placement: RecordPlacement | undefined;

  const stamp = pipeline.source.plugin.stampCursor;
  const checkpoint = async (last: SourceItem, costs: RecordPlacement) => {
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
      costByModel: costs.costState(),
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
    const transform = await createTransform(pipeline.transform, { resolvePath, logger, signal });
    transformLabel = pipeline.transform.label;
    placement = new RecordPlacement({
      pipeline,
      transform,
      totals,
      resume,
      writer,
      duplicates,
      requests,
      estimator,
      limits,
      modelLimits,
      fanout,
      fail: (line) => failures.write(`${line}\n`),
      signal,
      cache: options.cache,
      deliveredBefore: options.deliveredBefore,
      gate,
    });

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
      const waiting = placement.place(item);
      if (waiting) await waiting;
      // a shard is committed (and so submittable) as soon as it is sealed, a slow source's too; so
      // are fan-out rows a collection waits for
      const early = writer.sealed.length > committedCount || gate?.wantCheckpoint === true;
      if (totals.read % every === 0 || early) {
        await checkpoint(item, placement);
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
  const liveCost = placement.sumCosts(pipeline.spec.pricing);
  options.onProgress?.(totals.read);
  return {
    totals,
    shards,
    fanout: fanout.take(),
    failuresFile: prepFailuresFile(runId),
    liveCost,
    mayNotFit: modelLimits.mayNotFit,
    shardModels: placement.modelsByShard(),
  };
}

const PROGRESS_EVERY = 10_000;
/** the longest the read keeps the thread before the run loop gets a turn */
const TURN_MS = 2;

function samePosition(a: RecordPosition, b: RecordPosition): boolean {
  return a.file === b.file && a.line === b.line;
}
