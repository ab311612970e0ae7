/**
 * `runPipeline`: the programmatic entry point behind `batchpipe run`. Locks the pipeline's state,
 * resumes its unfinished run or starts one, reads its source (read-run.ts) while the run loop submits
 * the shards sealed so far, runs the loop to the end, cleans up and returns the reconciliation
 * report. It emits events and never prints.
 */
import { setMaxListeners } from "node:events";
import path from "node:path";
import { isFromCache } from "../cache/cached-shard.js";
import { type CacheLookup, cacheProvider, ResultCache } from "../cache/index.js";
import { BatchpipeError, ErrorCodes, isBatchpipeError } from "../errors.js";
import { pricesFor } from "../estimate/pricing.js";
import type { Logger } from "../plugin.js";
import type { ProviderConnection } from "../provider/contract.js";
import {
  acquireLock,
  checkStateOwner,
  openState,
  type RunCounters,
  type RunRow,
  type ShardRow,
  type StateLock,
  type StateStore,
  stateTag,
} from "../state/index.js";
import { cutTotal } from "./counters.js";
import { runNotifying } from "./notify.js";
import { lockOutputs } from "./output-locks.js";
import { FanoutGate, interrupted } from "./read/index.js";
import { loadReadResume, readRun } from "./read-run.js";
import { RunLoop } from "./run-loop.js";
import { costCapRefusal } from "./scheduler.js";
import { rememberSpec, specChangedWarning } from "./spec-changes.js";
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
  // plugins' warnings name the run once it is known (a provider opened before it names none)
  let currentRun = "";
  const logger = eventLogger(emit, () => currentRun);
  // what the provider's options fall back on: its key, and its base URL (the cache's origin)
  const env = options.env ?? process.env;
  const { checkpointEvery, deliveryPartSize, deadline } = resolveTuning(options);
  checkStateOwner(stateDir, pipeline.spec.name, { claim: true });
  const lock = await acquireLock(stateDir);
  // a run that cannot start lets go of what it holds (a BatchRunner's process goes on)
  let outputs: StateLock | undefined;
  let state: StateStore;
  try {
    outputs = await lockOutputs(pipeline);
    state = openState(stateDir);
  } catch (error) {
    outputs?.release();
    lock.release();
    throw error;
  }
  let provider: ProviderConnection | undefined;
  let cache: ResultCache | undefined;
  /** a new state's warning about this pipeline's batches from another state folder, said once the run exists */
  let otherFolder: string | undefined;
  try {
    cache = openCache(pipeline, stateDir, env);
    let run = state.unfinishedRun();
    const resumed = run !== undefined;
    if (!run && !state.latestRun() && !options.force) {
      // a new state: if it was lost or emptied, the provider still has this pipeline's batches
      provider = await openProvider(pipeline, { env, logger, signal });
      otherFolder = await refuseLostState(pipeline, provider, stateDir, signal);
    }
    if (!run) {
      run = state.createRun();
      rememberSpec(state, run.id, pipeline);
    }
    currentRun = run.id;
    const resume = run.status === "reading" ? loadReadResume(pipeline, state, run.id) : undefined;
    emit({
      type: "run_started",
      run: run.id,
      name: pipeline.spec.name,
      resumed,
      stateDir,
      ...(resume?.resume ? { readFrom: resume.resume.checkpoint.read } : {}),
    });
    if (resume?.warning) emit({ type: "warning", run: run.id, message: resume.warning });
    if (otherFolder) emit({ type: "warning", run: run.id, message: otherFolder });
    // a read that starts over says so itself (and one that cannot, refuses); one that resumes from
    // its checkpoint had the same source, transform and limits, but its sinks or provider may differ
    const changed =
      resumed && (run.status !== "reading" || resume?.resume)
        ? specChangedWarning(state, run.id, pipeline)
        : undefined;
    if (changed) emit({ type: "warning", run: run.id, message: changed });
    const reading = run.status === "reading";
    const runId = run.id;
    const noCache = keepNoCache(state, run.id, options.noCache === true);
    if (resumed && reading && noCache && !options.noCache)
      emit({
        type: "warning",
        run: run.id,
        message: `run ${run.id} began with --no-cache: it goes on sending every request, none answered from the result cache`,
      });
    if (!reading) refuseCost(pipeline, run, state.shards(run.id));
    provider ??= await openProvider(pipeline, { env, logger, signal });
    // the read stops when the loop fails (and the loop when the read fails)
    const stopRead = new AbortController();
    const gate = new FanoutGate(state.shards(run.id));
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
      // with max_cost the whole estimate is checked before the first submission: wait for the read
      reading: reading ? { holdSubmissions: pipeline.spec.batch.max_cost != null, gate } : undefined,
      cache,
    });
    const read = reading
      ? readRun({
          pipeline,
          state,
          run,
          stateDir,
          signal: AbortSignal.any([signal, stopRead.signal]),
          logger,
          emit,
          deliveredBefore: options.deliveredBefore,
          resume: resume?.resume,
          checkpointEvery,
          cache: cacheLookup(cache, pipeline, noCache),
          gate,
          urgent: () => loop.submitting,
          onShards: (shards) => loop.addShards(shards),
          onProgress: (records) => loop.readProgress(records),
        })
          .then(() => {
            const read = state.getRun(runId)!;
            refuseCost(pipeline, read, loop.shards());
            loop.readEnded(read.totals);
          })
          .catch((error: unknown) => loop.read.failed(error))
      : undefined;
    let ran: Awaited<ReturnType<RunLoop["run"]>>;
    try {
      ran = await loop.run();
    } catch (error) {
      await loop.cleanUp.abandon();
      throw error;
    } finally {
      stopRead.abort();
      await read;
    }
    const { counters, cancelled } = ran;
    run = state.getRun(run.id)!;
    if (pipeline.spec.batch.clean_up)
      emit({ type: "cleaned_up", run: run.id, shards: await loop.cleanUp.finish() });
    state.finishRun(run.id, cancelled ? "cancelled" : "done");
    // records that ended neither succeeded nor failed reached no sink: never a completed run
    const incomplete = counters.failed > 0 || (!cancelled && unaccounted(run, counters) !== 0);
    const status: RunStatusResult = cancelled ? "cancelled" : incomplete ? "partial" : "completed";
    const report = buildReport(pipeline, state.getRun(run.id)!, counters, status);
    emit({ type: "run_finished", report });
    return { run: run.id, status, report, exitCode: incomplete ? 3 : 0 };
  } catch (error) {
    // the signal aborted a call in flight (the provider's SDK throws its own abort error): the run
    // was interrupted, and what it did so far is in the state
    if (signal.aborted && !isBatchpipeError(error)) throw interrupted();
    throw error;
  } finally {
    await provider?.close().catch(() => undefined);
    // every delivery committed its successes already: this stops the writer
    await cache?.close().catch(() => undefined);
    state.close();
    outputs?.release();
    lock.release();
  }
}

/**
 * max_cost against the whole estimate, before the first submission (shards answered from the cache
 * cost nothing and are ended from the start)
 */
function refuseCost(pipeline: EnginePipeline, run: RunRow, shards: readonly ShardRow[]): void {
  const paid = shards.filter((s) => !isFromCache(s.batch));
  if (!paid.every((s) => s.status === "pending")) return;
  const refusal = costCapRefusal({
    maxCost: pipeline.spec.batch.max_cost,
    estimatedCost: run.totals?.estimatedCost ?? null,
    models: paid.map((s) => s.model),
    prices: pricesFor(pipeline.spec.pricing),
  });
  if (refusal) throw refusal;
}

/**
 * On a new state: refuse (STATE_LOST) when the provider has batches of this pipeline from this
 * state folder. The state that knew them is gone, so running would submit (and pay for) everything
 * again. Batches of the name from another folder give a warning instead (returned: the run it
 * belongs to does not exist yet).
 */
async function refuseLostState(
  pipeline: EnginePipeline,
  provider: ProviderConnection,
  stateDir: string,
  signal: AbortSignal,
): Promise<string | undefined> {
  const name = pipeline.spec.name;
  const found =
    (await provider.findByPipeline?.(name, { state: stateTag(stateDir), limit: 5, signal })) ?? [];
  if (found.length === 0) {
    // another folder's batches of this name: another copy of the project (not refused), or this
    // one's state under another path (a --state-dir left out, a moved folder): said, not refused
    const other = (await provider.findByPipeline?.(name, { limit: 1, signal })) ?? [];
    if (other[0])
      return `the provider has batches of pipeline "${name}" submitted from another state folder (newest: ${other[0].id}); this state (${stateDir}) is new, so this run sends everything itself. If that folder was this pipeline's state (a --state-dir left out, a moved project), stop now (Ctrl-C) and run with --state-dir (from code: the stateDir option, workConfig.state_dir) pointing at it`;
    return undefined;
  }
  const newest = found[0]!;
  const when = newest.createdAt ? ` created ${new Date(newest.createdAt).toISOString()}` : "";
  throw new BatchpipeError(
    ErrorCodes.STATE_LOST,
    `the provider has ${found.length === 5 ? "5 or more" : found.length} batch(es) of pipeline "${name}" (newest: ${newest.id}${when}), but its state in ${stateDir} is new: running would submit and pay for everything again`,
    {
      hint: "Restore the state folder (state.db) from a backup or point --state-dir at it (from code: the stateDir option, workConfig.state_dir); or, to submit everything again anyway, add --force (from code: force: true), or rename the pipeline.",
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
    firstFailures: counters.firstFailures,
    retried: counters.retried,
    unexpected: counters.unexpected,
    missing: counters.missing,
    unaccounted: status === "skipped" ? 0 : unaccounted(run, counters),
    identical: run.totals?.identical ?? 0,
    cached: run.totals?.cachedRecords ?? 0,
    cachedRequests: run.totals?.cached ?? 0,
    cachedSaved: run.totals?.cachedCost ?? 0,
    cachedUnpriced: run.totals?.cachedUnpriced ?? 0,
    answeredLive: counters.answeredLive,
    cut: cutTotal(counters),
    cutByReason: counters.cutByReason,
    batches: counters.batches,
    queueRefusals: counters.queueRefusals,
    shards: run.totals?.shards ?? 0,
    inputTokens: counters.inputTokens,
    outputTokens: counters.outputTokens,
    cost: counters.cost,
    unpriced: counters.unpriced,
    estimatedCost: run.totals?.estimatedCost ?? null,
    durationMs: (run.finishedAt ?? Date.now()) - run.createdAt,
  };
}

/** records read that ended neither succeeded nor failed: 0 unless records reached no sink */
function unaccounted(run: RunRow, counters: RunCounters): number {
  return (run.totals?.read ?? 0) - counters.succeeded - counters.failed;
}

/** the pipeline's result cache (written by every run; batch.cache_max_size 0 keeps none) */
function openCache(
  pipeline: EnginePipeline,
  stateDir: string,
  env: Record<string, string | undefined>,
): ResultCache | undefined {
  const maxBytes = pipeline.spec.batch.cache_max_size;
  if (maxBytes === 0) return undefined;
  const provider = cacheProvider(pipeline.provider, env);
  // a run holds the pipeline's lock: no other process writes its cache
  return ResultCache.open(stateDir, { provider, maxBytes, locked: true });
}

/** where the read phase looks requests up: nowhere with --no-cache or allow_same_dataset */
function cacheLookup(
  cache: ResultCache | undefined,
  pipeline: EnginePipeline,
  noCache: boolean,
): CacheLookup | undefined {
  if (!cache || noCache || pipeline.spec.batch.allow_same_dataset) return undefined;
  return cache;
}

/**
 * Whether the run sends every request (--no-cache): given once, kept in its state, so that its
 * resumes (a plain `batchpipe run`, as the resume hint says) do not answer from the cache what the
 * user asked to send again.
 */
function keepNoCache(state: StateStore, runId: string, given: boolean): boolean {
  const key = `no-cache:${runId}`;
  if (given) state.setValue(key, "1");
  return given || state.getValue(key) === "1";
}

function eventLogger(emit: (event: EngineEvent) => void, run: () => string): Logger {
  const warn = (message: string) => emit({ type: "warning", run: run(), message });
  return { debug() {}, info() {}, warn, error: warn };
}

/** a USAGE error for commands that need an unfinished run */
export function noRunError(name: string): BatchpipeError {
  return new BatchpipeError(ErrorCodes.USAGE, `pipeline "${name}" has no unfinished run`, {
    hint: "Start one with `batchpipe run <spec>` (from code: runSpec, or your BatchRunner class's run()).",
  });
}
