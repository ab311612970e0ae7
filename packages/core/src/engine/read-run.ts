/**
 * The read of a run, beside its run loop (streaming submission). Each read checkpoint commits the
 * shards sealed so far and hands them to the loop, which may submit them while the source is
 * still being read. Once a shard may have been submitted, the read's output is never forgotten:
 * a read that cannot continue from its checkpoint either re-reads a cursor-less source and skips
 * the records the checkpoint covers, or refuses with STATE_FAILED.
 */
import fs from "node:fs";
import path from "node:path";
import type { CacheLookup } from "../cache/index.js";
import { BatchpipeError, ErrorCodes } from "../errors.js";
import type { Logger } from "../plugin.js";
import type { RunRow, ShardRow, StateStore } from "../state/index.js";
import { decodeReadCheckpoint, encodeReadCheckpoint } from "./codecs/read-checkpoint.js";
import {
  type FanoutGate,
  type ReadResume,
  ReadStartsOver,
  readFailure,
  readIdentity,
  runReadPhase,
  withSubmitted,
} from "./read/index.js";
import { fmt } from "./read/read-errors.js";
import type { EngineEvent, EnginePipeline } from "./types.js";

export interface ReadRunOptions {
  pipeline: EnginePipeline;
  state: StateStore;
  run: RunRow;
  stateDir: string;
  signal: AbortSignal;
  logger: Logger;
  emit: (event: EngineEvent) => void;
  deliveredBefore?: (id: string) => string | undefined;
  /** the last checkpoint of this run's interrupted read */
  resume?: ReadResume;
  checkpointEvery: number;
  /** the result cache to answer requests from (cache/) */
  cache?: CacheLookup;
  /** ReadPhaseOptions.urgent */
  urgent?(): boolean;
  /** shared with the run loop (identical requests while it collects) */
  gate: FanoutGate;
  /** shards a checkpoint committed: the run loop may submit them now */
  onShards(shards: ShardRow[]): void;
  onProgress(records: number): void;
}

/** Read the run's source to the end; the run is "running" (finishReading) when this returns. */
export async function readRun(o: ReadRunOptions): Promise<void> {
  const { pipeline, state, run, stateDir, emit } = o;
  // forget what the read wrote (its next attempt starts clean): only while nothing was submitted
  const forget = (why: string) => {
    if (submitted(state, run.id)) throw cannotRestart(pipeline, why);
    state.resetRun(run.id);
    fs.rmSync(path.join(stateDir, run.id), { recursive: true, force: true });
  };
  let resume = o.resume;
  let resumable = true;
  if (!resume) forget("it has no read checkpoint");
  let read: Awaited<ReturnType<typeof runReadPhase>>;
  for (;;) {
    try {
      read = await runReadPhase({
        pipeline,
        stateDir,
        runId: run.id,
        signal: o.signal,
        logger: o.logger,
        onProgress: (records) => {
          emit({ type: "read_progress", run: run.id, records });
          o.onProgress(records);
        },
        checkpointEvery: o.checkpointEvery,
        onCheckpoint: (checkpoint, shards, fanout) => {
          state.saveReadCheckpoint(run.id, { value: encodeReadCheckpoint(checkpoint), shards, fanout });
          o.gate.committed(fanout);
          if (shards.length > 0) o.onShards(shards.map((s) => ({ ...s })));
        },
        resume,
        resumable,
        deliveredBefore: o.deliveredBefore,
        cache: o.cache,
        gate: o.gate,
        urgent: o.urgent,
      });
      break;
    } catch (error) {
      if (error instanceof ReadStartsOver) {
        if (resume && !resume.skip && error.sourceIgnoredCursor && submitted(state, run.id)) {
          emit({
            type: "warning",
            run: run.id,
            message: `${error.message}; its first ${fmt(resume.checkpoint.read)} records are skipped`,
          });
          resume = { ...resume, skip: true };
          continue;
        }
        forget(error.message);
        emit({ type: "warning", run: run.id, message: `${error.message}; reading starts over` });
        resume = undefined;
        // a source that ignores its cursor cannot resume: a failure forgets the read, as before
        if (error.sourceIgnoredCursor) resumable = false;
        continue;
      }
      // the state stays when the read can resume from a checkpoint (the error says where), and
      // always once a shard may be at the provider
      if (readFailure(error)?.keep || submitted(state, run.id))
        throw withSubmitted(error, sentShards(state, run.id));
      forget("its read failed");
      state.finishRun(run.id, "failed");
      throw error;
    }
  }
  state.finishReading(run.id, {
    totals: read.totals,
    shards: read.shards,
    fanout: read.fanout,
  });
  o.gate.committed(read.fanout);
  // the shards sealed after the last checkpoint (the loop ignores those it has)
  o.onShards(read.shards.map((s) => ({ ...s })));
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
}

/**
 * The checkpoint an interrupted read continues from; `warning` says why a checkpoint is not used
 * (the spec changed, or the source gives no cursor) or that the source is read again and skipped. Once a shard was submitted a cursor-less
 * source is re-read and skipped up to the checkpoint, and a changed spec is refused.
 */
export function loadReadResume(
  pipeline: EnginePipeline,
  state: StateStore,
  runId: string,
): { resume?: ReadResume; warning?: string } | undefined {
  const value = state.readCheckpoint(runId);
  if (value === undefined) return undefined;
  const checkpoint = decodeReadCheckpoint(value);
  const sent = submitted(state, runId);
  if (!checkpoint) {
    const why = "the read checkpoint cannot be parsed or was written by another batchpipe version";
    if (sent) throw cannotRestart(pipeline, why);
    return { warning: `${why}; reading starts over` };
  }
  if (checkpoint.identity !== readIdentity(pipeline)) {
    const why = "the spec's source, transform or batch limits changed since the read was interrupted";
    if (sent) throw cannotRestart(pipeline, why);
    return { warning: `${why}; reading starts over` };
  }
  if (checkpoint.source === null && !sent) {
    return {
      warning: `${pipeline.source.label} gives no cursor to resume from; reading starts over`,
    };
  }
  return {
    resume: {
      checkpoint,
      // the read's own shards (retry shards made since are the loop's)
      sealed: state.shards(runId).filter((s) => s.name === s.root),
      // lazy: an open iterator keeps the connection busy
      fanoutIds: { [Symbol.iterator]: () => state.fanoutIds(runId) },
      ...(checkpoint.source === null ? { skip: true } : {}),
    },
    ...(checkpoint.source === null
      ? {
          warning: `${pipeline.source.label} gives no cursor and shards were already submitted: it is read again from the start and the ${fmt(checkpoint.read)} records its last read checkpoint covers are skipped`,
        }
      : {}),
  };
}

/** whether a shard of the run may be at the provider (or was answered) */
function submitted(state: StateStore, runId: string): boolean {
  return state.shards(runId).some((s) => s.status !== "pending");
}

/** the shards of the run that may be at the provider (or were answered), and their requests */
function sentShards(state: StateStore, runId: string): { shards: number; requests: number } {
  const sent = state.shards(runId).filter((s) => s.status !== "pending");
  return { shards: sent.length, requests: sent.reduce((sum, s) => sum + s.requests, 0) };
}

function cannotRestart(pipeline: EnginePipeline, why: string): BatchpipeError {
  return new BatchpipeError(
    ErrorCodes.STATE_FAILED,
    `the interrupted read of pipeline "${pipeline.spec.name}" cannot continue (${why}), and shards it made were already submitted: reading again would send their records twice`,
    {
      hint: "Restore the spec and source as they were and run again; or `batchpipe cancel` (from code: cancelRun) the run (its submitted batches are cancelled and delivered) and start a new one.",
    },
  );
}
