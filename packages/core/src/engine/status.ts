/**
 * `pipelineStatus` reads the state of a pipeline's latest run (no lock: SQLite WAL lets it read
 * while a run writes). `cancelRun` asks the unfinished run to stop: it flags the run (a running
 * process sees the flag, stops submitting and finishes with partial results) and cancels its open
 * batches at the provider.
 */
import fs from "node:fs";
import path from "node:path";
import { BatchpipeError, ErrorCodes, type ErrorSummary } from "../errors.js";
import { type Logger, silentLogger } from "../plugin.js";
import {
  checkStateOwner,
  lockHolder,
  openState,
  type RunCounters,
  type RunTotals,
  type ShardStatus,
} from "../state/index.js";
import { shownRunStatus } from "./run-history.js";
import { defaultStateDir, noRunError, openProvider } from "./run-pipeline.js";
import type { EnginePipeline } from "./types.js";

/** Why a run that is not finished is not running either: the error (or signal) it ended on. */
export interface StopReason extends ErrorSummary {
  /** epoch ms */
  at: number;
}

export interface StatusResult {
  name: string;
  stateDir: string;
  run: {
    id: string;
    /** the state's status, except `stopped` for an unfinished run no process is running */
    status: string;
    /** for a stopped run: what it ended on, when the process could say (null after a kill -9) */
    stopped: StopReason | null;
    cancelRequested: boolean;
    createdAt: number;
    finishedAt: number | null;
    totals: RunTotals | null;
    counters: RunCounters;
    shards: Partial<Record<ShardStatus, number>>;
    batches: { shard: string; batchId: string; status: string | null; attempt: number; requests: number }[];
  } | null;
  /** a process holds the pipeline's lock: it runs the pipeline */
  running: boolean;
  /** that process's pid; null when none, or while it starts (it holds the lock, not yet named) */
  runningPid: number | null;
}

export function pipelineStatus(pipeline: EnginePipeline, options: { stateDir?: string } = {}): StatusResult {
  const stateDir = path.resolve(options.stateDir ?? defaultStateDir(pipeline));
  const holder = lockHolder(stateDir);
  const result: StatusResult = {
    name: pipeline.spec.name,
    stateDir,
    run: null,
    running: holder !== undefined,
    runningPid: holder?.pid ?? null,
  };
  if (!fs.existsSync(path.join(stateDir, "state.db"))) return result;
  checkStateOwner(stateDir, pipeline.spec.name, { claim: false });
  const state = openState(stateDir, { readOnly: true });
  try {
    const run = state.unfinishedRun() ?? state.latestRun({ meaningful: true });
    if (!run) return result;
    const shards: Partial<Record<ShardStatus, number>> = {};
    const batches: NonNullable<StatusResult["run"]>["batches"] = [];
    for (const s of state.shards(run.id)) {
      shards[s.status] = (shards[s.status] ?? 0) + 1;
      if (s.batchId && (s.status === "open" || s.status === "ended")) {
        batches.push({
          shard: s.name,
          batchId: s.batchId,
          status: s.batchStatus,
          attempt: s.attempt,
          requests: s.requests,
        });
      }
    }
    // an unfinished run whose process is gone ended on an error, a signal or a kill: never "running"
    const status = shownRunStatus(run.status, result.running);
    const stopped = status === "stopped";
    result.run = {
      id: run.id,
      status,
      stopped: stopped ? readStopReason(stateDir, run.id) : null,
      cancelRequested: run.cancelRequested,
      createdAt: run.createdAt,
      finishedAt: run.finishedAt,
      totals: run.totals,
      counters: run.counters,
      shards,
      batches,
    };
    return result;
  } finally {
    state.close();
  }
}

/**
 * Remember why the process running `run` stops before its end, for `status`. Best effort: a
 * state folder that cannot be written must not hide the error being recorded.
 */
export function recordRunStop(stateDir: string, run: string, reason: ErrorSummary): void {
  const file = path.join(stateDir, STOP_FILE);
  const record = { run, ...reason, at: Date.now() };
  try {
    fs.writeFileSync(`${file}.tmp`, `${JSON.stringify(record)}\n`, { mode: 0o600 });
    fs.renameSync(`${file}.tmp`, file);
  } catch {
    // nothing to do: status then says "stopped" without the reason
  }
}

/** a run (re)starts: an earlier stop reason no longer explains anything (a later kill -9 records none) */
export function clearRunStop(stateDir: string): void {
  try {
    fs.rmSync(path.join(stateDir, STOP_FILE), { force: true });
  } catch {
    // best effort, as when it is written
  }
}

const STOP_FILE = "stopped.json";

function readStopReason(stateDir: string, run: string): StopReason | null {
  try {
    const record = JSON.parse(fs.readFileSync(path.join(stateDir, STOP_FILE), "utf8")) as StopReason & {
      run?: string;
    };
    if (record.run !== run) return null;
    const { run: _, ...reason } = record;
    return reason;
  } catch {
    return null;
  }
}

export interface CancelResult {
  run: string;
  cancelled: string[];
  failed: { batchId: string; message: string }[];
}

export async function cancelRun(
  pipeline: EnginePipeline,
  options: {
    stateDir?: string;
    env?: Record<string, string | undefined>;
    logger?: Logger;
    /**
     * stops the provider's calls (their retries through an outage too): cancelRun then rejects
     * INTERRUPTED; the run stays flagged, and the next run (or cancel) cancels what is left
     */
    signal?: AbortSignal;
  } = {},
): Promise<CancelResult> {
  const stateDir = path.resolve(options.stateDir ?? defaultStateDir(pipeline));
  if (!fs.existsSync(path.join(stateDir, "state.db"))) throw noRunError(pipeline.spec.name);
  checkStateOwner(stateDir, pipeline.spec.name, { claim: false });
  const state = openState(stateDir, { keepVersion: true });
  try {
    const run = state.unfinishedRun();
    if (!run) throw noRunError(pipeline.spec.name);
    state.requestCancel(run.id);
    const open = state.shards(run.id).filter((s) => s.status === "open" && s.batchId);
    const result: CancelResult = { run: run.id, cancelled: [], failed: [] };
    if (open.length === 0) return result;
    const signal = options.signal ?? new AbortController().signal;
    const provider = await openProvider(pipeline, {
      env: options.env ?? process.env,
      logger: options.logger ?? silentLogger,
      signal,
    });
    try {
      for (const shard of open) {
        if (signal.aborted) throw cancelInterrupted(result, open.length);
        try {
          await provider.cancel({ id: shard.batchId!, data: shard.batch?.data ?? null }, { signal });
          result.cancelled.push(shard.batchId!);
        } catch (error) {
          // a call the stop cut short did not fail: the stop is what happened
          if (signal.aborted) throw cancelInterrupted(result, open.length);
          result.failed.push({ batchId: shard.batchId!, message: (error as Error).message });
        }
      }
    } finally {
      await provider.close();
    }
    return result;
  } finally {
    state.close();
  }
}

/** cancelRun stopped by its signal: what it had cancelled, and that the run stays flagged */
function cancelInterrupted(result: CancelResult, open: number): BatchpipeError {
  return new BatchpipeError(
    ErrorCodes.INTERRUPTED,
    `cancel interrupted: ${result.cancelled.length} of ${open} open batches of run ${result.run} cancelled; the run is flagged to cancel`,
    {
      hint: "Cancel again to cancel the rest at the provider, or run the pipeline: the run cancels them itself and ends.",
    },
  );
}
