/**
 * `planPipeline`: the read phase into a temporary folder, then a summary: records, shards, estimated
 * tokens and cost at batch prices. No provider is created and nothing touches the network.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { isFromCache } from "../cache/cached-shard.js";
import { CACHE_FILE, cacheProvider, ResultCache } from "../cache/index.js";
import { BatchpipeError, ErrorCodes, systemError } from "../errors.js";
import { pricesFor, shardCost } from "../estimate/pricing.js";
import { type FailureRow, type Logger, silentLogger } from "../plugin.js";
import { checkStateOwner, type FailureExample, openState, type RunTotals } from "../state/index.js";
import { countFailure, emptyCounters } from "./counters.js";
import { type MayNotFit, runReadPhase, withoutResume } from "./read/index.js";
import type { EnginePipeline } from "./types.js";

export interface PlanShard {
  name: string;
  /** the model its batch is for; "" when the provider's batches mix models (Anthropic) */
  model: string;
  /** the models of its requests (one unless the provider's batches mix them) */
  models: string[];
  endpoint: string;
  requests: number;
  bytes: number;
  inputTokens: number;
  outputTokens: number;
  /** null when the model's price is unknown */
  cost: number | null;
  /** answered from the result cache: nothing is sent */
  cached: boolean;
}

export interface PlanResult {
  name: string;
  totals: RunTotals;
  shards: PlanShard[];
  /**
   * failures known before any request is sent, by code (invalid_input, template_error,
   * request_too_large, and over a model's limits: context_length_exceeded, max_tokens_too_large)
   */
  failedByCode: Record<string, number>;
  /** the first record of each code in failedByCode: its id and why it fails */
  firstFailures: Record<string, FailureExample>;
  /**
   * requests that may not fit their model's context window (their input is an estimate, so they
   * are sent): how many, and the first few ids with why
   */
  mayNotFit: MayNotFit;
  /**
   * With batch.deadline: the cost if every request is answered through the live API (the deadline
   * passes before any batch ends); null without a deadline or when a model's price is unknown.
   */
  liveWorstCase: number | null;
  /**
   * What the read warned about (the source's warnings, e.g. a CSV that is not UTF-8), as `run`
   * prints them: how many, and the first few
   */
  warnings: { count: number; first: string[] };
  /**
   * The pipeline's unfinished run, if it has one: `run` resumes it (sending only what it has not
   * sent) instead of doing what this plan shows
   */
  unfinishedRun: string | null;
}

export async function planPipeline(
  pipeline: EnginePipeline,
  options: {
    signal?: AbortSignal;
    logger?: Logger;
    onProgress?(records: number): void;
    /** the state folder whose result cache answers requests (default .batchpipe/<name>) */
    stateDir?: string;
    /** as run --no-cache: count every request as sent */
    noCache?: boolean;
    /** what the provider's options fall back on (its base URL: the result cache's origin); default process.env */
    env?: Record<string, string | undefined>;
  } = {},
): Promise<PlanResult> {
  // what a run would take from the result cache (never created here: plan writes no state)
  const stateDir = options.stateDir ?? path.join(pipeline.dir, ".batchpipe", pipeline.spec.name);
  checkStateOwner(stateDir, pipeline.spec.name, { claim: false });
  const tmp = os.tmpdir();
  let dir: string;
  try {
    dir = fs.mkdtempSync(path.join(tmp, "batchpipe-plan-"));
  } catch (error) {
    throw tempFolderError(tmp, error);
  }
  // the read's warnings are the plan's (and the caller's logger's, if it gave one)
  const warnings: PlanResult["warnings"] = { count: 0, first: [] };
  const given = options.logger ?? silentLogger;
  const keep = (message: string) => {
    if (warnings.count++ < WARNINGS_SHOWN) warnings.first.push(message);
  };
  const logger: Logger = {
    debug: (message, data) => given.debug(message, data),
    info: (message, data) => given.info(message, data),
    warn: (message, data) => {
      keep(message);
      given.warn(message, data);
    },
    error: (message, data) => {
      keep(message);
      given.error(message, data);
    },
  };
  const cache =
    !options.noCache &&
    !pipeline.spec.batch.allow_same_dataset &&
    pipeline.spec.batch.cache_max_size > 0 &&
    fs.existsSync(path.join(stateDir, CACHE_FILE))
      ? ResultCache.open(stateDir, {
          provider: cacheProvider(pipeline.provider, options.env ?? process.env),
          maxBytes: pipeline.spec.batch.cache_max_size,
          readOnly: true,
        })
      : undefined;
  try {
    const read = await runReadPhase({
      pipeline,
      stateDir: dir,
      runId: "plan",
      signal: options.signal ?? new AbortController().signal,
      logger,
      quietMayNotFit: true,
      onProgress: options.onProgress,
      cache: cache && cache.size > 0 ? cache : undefined,
    }).catch((error: unknown) => {
      // the machine's problem here is the temp folder's (a full disk): plan has no run to resume
      throw systemError(error) ? tempFolderError(tmp, error) : withoutResume(error);
    });
    // counted as a run counts them when it delivers these failures
    const counters = emptyCounters();
    const failures = fs.readFileSync(path.join(dir, read.failuresFile), "utf8");
    for (const line of failures.split("\n")) if (line) countFailure(counters, JSON.parse(line) as FailureRow);
    const { failedByCode, firstFailures } = counters;
    // per model, not per shard: a shard that mixes models has none to price it by
    const liveWorstCase = pipeline.spec.batch.deadline === null ? null : read.liveCost;
    return {
      name: pipeline.spec.name,
      totals: read.totals,
      failedByCode,
      firstFailures,
      mayNotFit: read.mayNotFit,
      liveWorstCase,
      warnings,
      unfinishedRun: unfinishedRun(stateDir),
      shards: read.shards.map((s) => ({
        name: s.name,
        model: s.model,
        models: s.model === "" ? (read.shardModels.get(s.seq) ?? []) : [s.model],
        endpoint: s.endpoint,
        requests: s.requests,
        bytes: s.bytes,
        inputTokens: s.tokens,
        outputTokens: s.outputTokens,
        cost: isFromCache(s.batch) ? 0 : shardCost(s, read.totals, pricesFor(pipeline.spec.pricing)),
        cached: isFromCache(s.batch),
      })),
    };
  } finally {
    await cache?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** the warnings a plan keeps (it counts them all) */
const WARNINGS_SHOWN = 20;

/** the unfinished run of the state folder, read without taking the pipeline's lock */
function unfinishedRun(stateDir: string): string | null {
  if (!fs.existsSync(path.join(stateDir, "state.db"))) return null;
  const state = openState(stateDir, { readOnly: true });
  try {
    return state.unfinishedRun()?.id ?? null;
  } finally {
    state.close();
  }
}

/**
 * plan's temp folder could not be made or written (TMPDIR missing, not a folder, not writable, or
 * full): said with what to do for plan, which writes no state and has no run to resume
 */
function tempFolderError(tmp: string, error: unknown): BatchpipeError {
  const cause = systemError(error)?.message ?? (error instanceof Error ? error.message : String(error));
  return new BatchpipeError(ErrorCodes.SYSTEM, `plan could not write its temp folder in ${tmp}: ${cause}`, {
    hint: "plan reads the dataset into a temp folder under TMPDIR and removes it at its end (it writes no state): point TMPDIR at a folder you can write with room for the shards (e.g. TMPDIR=/var/tmp), or free space there, and run plan again.",
    cause: error,
  });
}
