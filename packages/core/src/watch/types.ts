/** What `watchPipeline` takes, reports and returns, and what the parts of a watch share. */
import type { EngineEvent, EnginePipeline, EngineTuning, RunResult } from "../engine/types.js";
import type { BatchpipeError } from "../errors.js";
import type { WatchRegistry } from "./registry.js";

export type WatchEvent =
  /**
   * A watcher: every folder is watched (after any unfinished groups ran), so a file written from
   * now on is seen. --once: the start; the files there once the unfinished groups ran are taken.
   */
  | { type: "watching"; target: string; root: string; once: boolean }
  /**
   * The watched folder does not exist (yet, or any more): it is watched once it is there, and a
   * folder replaced while watched is watched anew (`watching` then follows)
   */
  | { type: "folder_missing"; root: string }
  | { type: "file_queued"; file: string; sha: string; bytes: number }
  | {
      type: "file_skipped";
      file: string;
      sha: string;
      /** already queued: this content waits in the next group (a second write of the same bytes) */
      reason: "already processed" | "already queued" | "link out of the folder";
    }
  /** the file could not be copied to its snapshot (unreadable, disk full); retryInMs null: given up (--once) */
  | { type: "file_error"; file: string; error: BatchpipeError; retryInMs: number | null }
  | { type: "group_started"; group: number; files: string[]; resumed: boolean }
  | { type: "group_run"; group: number; run: string }
  /** the file was read: `records` become requests (or failures) of the group's run */
  | { type: "file_read"; group: number; file: string; records: number }
  /** a file's rows; `failed`: the source failed in the file (file_failed), the rows before it were processed */
  | {
      type: "file_done";
      group: number;
      file: string;
      succeeded: number;
      failed: number;
      status: "done" | "failed";
    }
  /** the source failed in a file after `records` of its records: the file ends there, the run goes on */
  | { type: "file_failed"; group: number; file: string; records: number; error: BatchpipeError }
  | { type: "group_finished"; group: number; status: RunResult["status"]; report: RunResult["report"] }
  | { type: "group_split"; group: number; groups: number[]; reason: string }
  | { type: "group_failed"; group: number; files: string[]; error: BatchpipeError }
  | { type: "group_retry"; group: number; error: BatchpipeError; inMs: number }
  | { type: "idle" }
  | { type: "engine"; group: number; event: EngineEvent };

export interface WatchOptions {
  /** default `.batchpipe/<name>` beside the spec */
  stateDir?: string;
  /** process what is there now (and unfinished groups), then return */
  once?: boolean;
  signal?: AbortSignal;
  onEvent?: (event: WatchEvent) => void;
  env?: Record<string, string | undefined>;
  /**
   * Watch a state folder `batchpipe run` processed (refused otherwise: the run's files would be
   * taken again), and RunOptions.force for each group's run: submit even when the state is new but
   * the provider has this pipeline's batches
   */
  force?: boolean;
  /** RunOptions.noCache for each group's run: every request is sent, none answered from the result cache */
  noCache?: boolean;
  /** passed to each group's runPipeline */
  engine?: EngineTuning;
  /** ms a file's size must stay unchanged before it counts as written (default 1000) */
  settle?: number;
  /**
   * ms without a new file before a group starts (default 2000; a group waits at most 10× this, then
   * takes every file that arrived, however many). --once: one group of every file there.
   */
  coalesce?: number;
}

export interface WatchSummary {
  groups: number;
  /** files processed */
  files: number;
  /** files that could not be processed, or only up to where the source failed in them (group_failed, file_failed) */
  filesFailed: number;
  succeeded: number;
  failed: number;
}

/** what the queue and the group runner of one watch share */
export interface GroupContext {
  pipeline: EnginePipeline;
  stateDir: string;
  registry: WatchRegistry;
  emit: (event: WatchEvent) => void;
  signal: AbortSignal;
  options: WatchOptions;
  summary: WatchSummary;
}
