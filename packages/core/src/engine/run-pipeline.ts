/**
 * `runPipeline`: the programmatic entry point behind `batchpipe run`. Locks the pipeline's state,
 * resumes its unfinished run or starts one (read phase → shards on disk), runs the loop to the end,
 * cleans up and returns the reconciliation report. It emits events and never prints.
 */
import { setMaxListeners } from "node:events";
import fs from "node:fs";
import path from "node:path";
import { isFromCache } from "../cache/cached-shard.js";
import { type CacheLookup, ResultCache } from "../cache/index.js";
import { BatchpipeError, ErrorCodes } from "../errors.js";
import { pricesFor } from "../estimate/pricing.js";
import type { Logger } from "../plugin.js";
import type { ProviderConnection } from "../provider/contract.js";
import {
  acquireLock,
  openState,
  type RunCounters,
  type RunRow,
  type StateStore,
  stateTag,
} from "../state/index.js";
import { decodeReadCheckpoint, encodeReadCheckpoint } from "./codecs/read-checkpoint.js";
import { runNotifying } from "./notify.js";
import { type ReadResume, ReadStartsOver, readFailure, readIdentity, runReadPhase } from "./read/index.js";
import { RunLoop } from "./run-loop.js";
import { costCapRefusal } from "./scheduler.js";
import { resolveTuning } from "./tuning.js";
import type {
  EngineEvent,
  EnginePipeline,
  RunOptions,
  RunReport,
  RunResult,
  RunStatusResult,
} from "./types.js";

export function defaultStateDir(pipeline: Pick<EnginePipeline, "dir" | "spec">): string {
  return path.join(pipeline.dir, ".batchpipe", pipeline.spec.name);
}

export async function runPipeline(pipeline: EnginePipeline, options: RunOptions = {}): Promise<RunResult> {
  return runNotifying(pipeline, options, (withEvents) => runOnce(pipeline, withEvents));
}

async function runOnce(pipeline: EnginePipeline, options: RunOptions): Promise<RunResult> {
  const stateDir = path.resolve(options.stateDir ?? defaultStateDir(pipeline));
  const emit = (event: EngineEvent) => options.onEvent?.(event);
  const signal = options.signal ?? new AbortController().signal;
  // one listener per concurrent provider call and sleep
  setMaxListeners(64, signal);
  const logger = eventLogger(emit);
  const { checkpointEvery, deliveryPartSize, deadline } = resolveTuning(options);
  const lock = acquireLock(stateDir);
  const state = openState(stateDir);
  let provider: ProviderConnection | undefined;
  let cache: ResultCache | undefined;
  try {
    cache = openCache(pipeline, stateDir);
    let run = state.unfinishedRun();
    const resumed = run !== undefined;
    if (!run && !state.latestRun() && !options.force) {
      // a new state: if it was lost or emptied, the provider still has this pipeline's batches
      provider = await openProvider(pipeline, { env: options.env ?? process.env, logger, signal });
      await refuseLostState(pipeline, provider, stateDir, signal);
    }
    run ??= state.createRun();
    const resume = run.status === "reading" ? loadReadResume(pipeline, state, run.id) : undefined;
    emit({
      type: "run_started",
      run: run.id,
      name: pipeline.spec.name,
      resumed,
      stateDir,
      ...(resume?.resume ? { readFrom: resume.resume.checkpoint.read } : {}),
    });
    if (resume?.startOver) emit({ type: "warning", run: run.id, message: resume.startOver });
    if (run.status === "reading") {
      const skipped = await readRun({
        pipeline,
        state,
        run,
        stateDir,
        signal,
        logger,
        emit,
        force: options.force,
        deliveredBefore: options.deliveredBefore,
        resume: resume?.resume,
        checkpointEvery,
        cache: cacheLookup(cache, pipeline, options),
      });
      if (skipped) return skipped;
      run = state.getRun(run.id)!;
    }
    const shards = state.shards(run.id);
    // shards answered from the cache cost nothing and are ended from the start
    const paid = shards.filter((s) => !isFromCache(s.batch));
    if (paid.every((s) => s.status === "pending")) {
      const refusal = costCapRefusal({
        maxCost: pipeline.spec.batch.max_cost,
        estimatedCost: run.totals?.estimatedCost ?? null,
        models: paid.map((s) => s.model),
        prices: pricesFor(pipeline.spec.pricing),
      });
      if (refusal) throw refusal;
    }
    provider ??= await openProvider(pipeline, { env: options.env ?? process.env, logger, signal });
    const loop = new RunLoop({
      pipeline,
      state,
      provider,
      run,
      stateDir,
      signal,
      logger,
      emit,
      pluginTimeoutMs: pipeline.spec.batch.plugin_timeout,
      deliveryPartSize,
      deadline,
      cache,
    });
    const { counters, cancelled } = await loop.run();
    if (pipeline.spec.batch.clean_up) await cleanUp({ provider, loop, stateDir, run, emit });
    state.finishRun(run.id, cancelled ? "cancelled" : "done", { remember: !cancelled });
    const status: RunStatusResult = cancelled ? "cancelled" : counters.failed > 0 ? "partial" : "completed";
    const report = buildReport(pipeline, state.getRun(run.id)!, counters, status);
    emit({ type: "run_finished", report });
    return { run: run.id, status, report, exitCode: counters.failed > 0 ? 3 : 0 };
  } finally {
    await provider?.close().catch(() => undefined);
    cache?.close();
    state.close();
    lock.release();
  }
}

async function readRun(o: {
  pipeline: EnginePipeline;
  state: StateStore;
  run: RunRow;
  stateDir: string;
  signal: AbortSignal;
  logger: Logger;
  emit: (event: EngineEvent) => void;
  force?: boolean;
  deliveredBefore?: (id: string) => string | undefined;
  /** the last checkpoint of this run's interrupted read phase */
  resume?: ReadResume;
  checkpointEvery: number;
  /** the result cache to answer requests from (cache/) */
  cache?: CacheLookup;
}): Promise<RunResult | undefined> {
  const { pipeline, state, run, stateDir, emit } = o;
  // nothing was submitted yet: forget what the read phase wrote (its next attempt starts clean)
  const forget = () => {
    state.resetRun(run.id);
    fs.rmSync(path.join(stateDir, run.id), { recursive: true, force: true });
  };
  let resume = o.resume;
  let resumable = true;
  if (!resume) forget();
  let read: Awaited<ReturnType<typeof runReadPhase>>;
  for (;;) {
    try {
      read = await runReadPhase({
        pipeline,
        stateDir,
        runId: run.id,
        signal: o.signal,
        logger: o.logger,
        onProgress: (records) => emit({ type: "read_progress", run: run.id, records }),
        checkpointEvery: o.checkpointEvery,
        onCheckpoint: (checkpoint, shards, fanout) =>
          state.saveReadCheckpoint(run.id, { value: encodeReadCheckpoint(checkpoint), shards, fanout }),
        resume,
        resumable,
        deliveredBefore: o.deliveredBefore,
        cache: o.cache,
      });
      break;
    } catch (error) {
      if (error instanceof ReadStartsOver) {
        emit({ type: "warning", run: run.id, message: `${error.message}; reading starts over` });
        forget();
        resume = undefined;
        // a source that ignores its cursor cannot resume: a failure forgets the read, as before
        if (error.sourceIgnoredCursor) resumable = false;
        continue;
      }
      // the state stays when the read can resume from a checkpoint (the error says where)
      if (readFailure(error)?.keep) throw error;
      forget();
      state.finishRun(run.id, "failed", { remember: false });
      throw error;
    }
  }
  // (cache) no dataset skip any more: an unchanged dataset is read again and answered from the
  // result cache, so every run delivers every record and a rerun retries exactly what failed
  state.finishReading(run.id, {
    fingerprint: read.fingerprint,
    totals: read.totals,
    shards: read.shards,
    fanout: read.fanout,
  });
  emit({
    type: "planned",
    run: run.id,
    totals: read.totals,
    shards: read.shards.map((s) => ({
      name: s.name,
      model: s.model,
      endpoint: s.endpoint,
      requests: s.requests,
      bytes: s.bytes,
      tokens: s.tokens,
    })),
  });
  return undefined;
}

/**
 * The checkpoint an interrupted read phase continues from; `startOver` says why a checkpoint is not
 * used (the spec changed, or the source gives no cursor).
 */
function loadReadResume(
  pipeline: EnginePipeline,
  state: StateStore,
  runId: string,
): { resume?: ReadResume; startOver?: string } | undefined {
  const value = state.readCheckpoint(runId);
  if (value === undefined) return undefined;
  const checkpoint = decodeReadCheckpoint(value);
  if (!checkpoint) {
    return {
      startOver:
        "the read checkpoint cannot be parsed or was written by another batchpipe version; reading starts over",
    };
  }
  if (checkpoint.identity !== readIdentity(pipeline)) {
    return {
      startOver:
        "the spec's source, transform or batch limits changed since the read was interrupted; reading starts over",
    };
  }
  if (checkpoint.source === null) {
    return {
      startOver: `${pipeline.source.label} gives no cursor to resume from; reading starts over`,
    };
  }
  return {
    resume: {
      checkpoint,
      sealed: state.shards(runId),
      // lazy: an open iterator keeps the connection busy
      fanoutIds: { [Symbol.iterator]: () => state.fanoutIds(runId) },
    },
  };
}

/**
 * On a new state: refuse (STATE_LOST) when the provider has batches tagged with this pipeline's
 * name. The state that knew them is gone, so running would submit (and pay for) everything again.
 */
async function refuseLostState(
  pipeline: EnginePipeline,
  provider: ProviderConnection,
  stateDir: string,
  signal: AbortSignal,
): Promise<void> {
  const name = pipeline.spec.name;
  const found =
    (await provider.findByPipeline?.(name, { state: stateTag(stateDir), limit: 5, signal })) ?? [];
  if (found.length === 0) return;
  const newest = found[0]!;
  const when = newest.createdAt ? ` created ${new Date(newest.createdAt).toISOString()}` : "";
  throw new BatchpipeError(
    ErrorCodes.STATE_LOST,
    `the provider has ${found.length === 5 ? "5 or more" : found.length} batch(es) of pipeline "${name}" (newest: ${newest.id}${when}), but its state in ${stateDir} is new: running would submit and pay for everything again`,
    {
      hint: "Restore the state folder (state.db) from a backup or point --state-dir at it; or, to submit everything again anyway, add --force (or rename the pipeline).",
    },
  );
}

/** Connect to the pipeline's provider for a run (or a cancel). */
export async function openProvider(
  pipeline: EnginePipeline,
  o: { env: Record<string, string | undefined>; logger: Logger; signal: AbortSignal },
): Promise<ProviderConnection> {
  const { plugin, options } = pipeline.provider;
  return plugin.open({
    options,
    env: o.env,
    logger: o.logger,
    signal: o.signal,
    resolvePath: (p: string) => path.resolve(pipeline.dir, p),
  });
}

/** what each shard left at the provider goes, then the run's local shard files */
async function cleanUp(o: {
  provider: ProviderConnection;
  loop: RunLoop;
  stateDir: string;
  run: RunRow;
  emit: (event: EngineEvent) => void;
}): Promise<void> {
  let cleaned = 0;
  for (const shard of o.loop.shards()) {
    if (shard.staged === null && shard.batchId === null) continue;
    const batch = shard.batchId ? { id: shard.batchId, data: shard.batch?.data ?? null } : null;
    try {
      await o.provider.cleanUp({ staged: shard.staged, batch });
      cleaned++;
    } catch (error) {
      o.emit({
        type: "warning",
        run: o.run.id,
        message: `could not clean up shard ${shard.name} at the provider: ${(error as Error).message}`,
      });
    }
  }
  fs.rmSync(path.join(o.stateDir, o.run.id), { recursive: true, force: true });
  o.emit({ type: "cleaned_up", run: o.run.id, shards: cleaned });
}

export function buildReport(
  pipeline: EnginePipeline,
  run: RunRow,
  counters: RunCounters,
  status: RunStatusResult,
): RunReport {
  const read = run.totals?.read ?? 0;
  return {
    run: run.id,
    name: pipeline.spec.name,
    status,
    read,
    succeeded: counters.succeeded,
    failed: counters.failed,
    failedByCode: counters.failedByCode,
    retried: counters.retried,
    unexpected: counters.unexpected,
    missing: counters.missing,
    unaccounted: status === "skipped" ? 0 : read - counters.succeeded - counters.failed,
    identical: run.totals?.identical ?? 0,
    cached: run.totals?.cachedRecords ?? 0,
    cachedRequests: run.totals?.cached ?? 0,
    cachedSaved: run.totals?.cachedCost ?? 0,
    batches: counters.batches,
    queueRefusals: counters.queueRefusals,
    shards: run.totals?.shards ?? 0,
    inputTokens: counters.inputTokens,
    outputTokens: counters.outputTokens,
    cost: counters.cost,
    estimatedCost: run.totals?.estimatedCost ?? null,
    durationMs: (run.finishedAt ?? Date.now()) - run.createdAt,
  };
}

/** the pipeline's result cache (written by every run; batch.cache_max_size 0 keeps none) */
function openCache(pipeline: EnginePipeline, stateDir: string): ResultCache | undefined {
  const maxBytes = pipeline.spec.batch.cache_max_size;
  if (maxBytes === 0) return undefined;
  return ResultCache.open(stateDir, { provider: pipeline.provider.label, maxBytes });
}

/** where the read phase looks requests up: nowhere with --no-cache or allow_same_dataset, or when empty (no cost per record) */
function cacheLookup(
  cache: ResultCache | undefined,
  pipeline: EnginePipeline,
  options: RunOptions,
): CacheLookup | undefined {
  if (!cache || cache.size === 0 || options.noCache || pipeline.spec.batch.allow_same_dataset)
    return undefined;
  return cache;
}

function eventLogger(emit: (event: EngineEvent) => void): Logger {
  const warn = (message: string) => emit({ type: "warning", run: "", message });
  return { debug() {}, info() {}, warn, error: warn };
}

/** a STATE_FAILED error for commands that need an unfinished run */
export function noRunError(name: string): BatchpipeError {
  return new BatchpipeError(ErrorCodes.USAGE, `pipeline "${name}" has no unfinished run`, {
    hint: "Start one with `batchpipe run <spec>`.",
  });
}
