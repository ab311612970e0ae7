/**
 * `watchPipeline`: run a pipeline over every file that appears in its source's folder or glob.
 *
 * A file is taken once it is fully written (chokidar's awaitWriteFinish), copied to a snapshot and
 * hashed; a file version (path + sha256) is processed once, ever (the registry). Files that arrive
 * within `coalesce` of each other form one group, run as one engine run, so small files share
 * batches (one batch per file would hit the provider's batch creation limit). Groups run one after
 * another; every group writes to the same sinks. Rows carry `source.file`: the original path.
 */
import { setMaxListeners } from "node:events";
import fs from "node:fs";
import path from "node:path";
import type { EnginePipeline } from "../engine/types.js";
import { BatchpipeError, ErrorCodes } from "../errors.js";
import { isStreamInput, STDIN_PATH } from "../input-files.js";
import { acquireLock, checkStateOwner, openState } from "../state/index.js";
import { excluded, removeStaleSnapshots, settledFiles } from "./files.js";
import { type FolderWatch, watchFolder } from "./folder-watch.js";
import { createQueue } from "./queue.js";
import { openRegistry } from "./registry.js";
import { interrupted, runGroup } from "./run-group.js";
import { resolveWatchTarget, type WatchTarget } from "./target.js";
import type { GroupContext, WatchEvent, WatchOptions, WatchSummary } from "./types.js";

export type { WatchEvent, WatchOptions, WatchSummary } from "./types.js";

export async function watchPipeline(
  pipeline: EnginePipeline,
  options: WatchOptions = {},
): Promise<WatchSummary> {
  const stateDir = path.resolve(
    options.stateDir ?? path.join(pipeline.dir, ".batchpipe", pipeline.spec.name),
  );
  checkStateOwner(stateDir, pipeline.spec.name, { claim: true });
  const watchDir = path.join(stateDir, "watch");
  const target = watchTarget(pipeline);
  const emit = (event: WatchEvent) => options.onEvent?.(event);
  // an own signal: settle waits put one listener each on it, any number of files at once
  const controller = new AbortController();
  setMaxListeners(0, controller.signal);
  if (options.signal?.aborted) controller.abort();
  options.signal?.addEventListener("abort", () => controller.abort(), { once: true });
  const signal = controller.signal;
  // one watcher per pipeline: the registry has one writer
  const lock = await acquireLock(watchDir, { command: "watch" });
  const registry = openRegistry(watchDir);
  const summary: WatchSummary = { groups: 0, files: 0, filesFailed: 0, succeeded: 0, failed: 0 };
  const ctx: GroupContext = { pipeline, stateDir, registry, emit, signal, options, summary };
  let watcher: FolderWatch | undefined;
  let fail: (error: unknown) => void = () => {};
  try {
    if (!options.force && !registry.taken()) refuseRunState(stateDir, target);
    removeStaleSnapshots(watchDir, registry);
    const watching = () =>
      emit({ type: "watching", target: target.describe, root: target.root, once: Boolean(options.once) });
    if (options.once) watching();
    // groups a previous watcher left unfinished come first, in order, with no other group beside
    // them (the queue's groups would be); chokidar starts after them, its scan finds what came meanwhile
    for (const group of registry.pendingGroups()) await runGroup(ctx, group, true);
    const queue = createQueue(ctx, watchDir);
    if (options.once) {
      const files = await settledFiles(target, excluded(pipeline, stateDir), options.settle ?? 1000, signal);
      for (const file of files) await queue.offer(file);
      await queue.drain();
      // a signal in the settle wait or between groups leaves files untaken: not a finished pass
      if (signal.aborted) throw interrupted();
      return summary;
    }
    const stopped = new Promise<void>((resolve, reject) => {
      signal.addEventListener("abort", () => resolve(), { once: true });
      fail = reject;
      queue.onFatal(reject);
    });
    watcher = watchFolder({
      target,
      excluded: excluded(pipeline, stateDir),
      settle: options.settle ?? 1000,
      signal,
      onFile: (file, settle) => {
        if (!target.allows(file)) {
          emit({ type: "file_skipped", file, sha: "", reason: "link out of the folder" });
          return;
        }
        void queue.offer(file, { settle });
      },
      onWatching: watching,
      onMissing: () => emit({ type: "folder_missing", root: target.root }),
      onError: (error) => fail(error),
    });
    await stopped;
    await queue.stop();
    throw interrupted();
  } finally {
    await watcher?.close();
    registry.close();
    lock.release();
  }
}

// --- internal ---

/**
 * A state folder `batchpipe run` processed, and no watcher ever: the run's files are not in the
 * registry and the ids it delivered not in its delivered table, so a watcher would take the same
 * files as new ones and deliver their records a second time (after the run's rows, the sinks being
 * carried over). Refused, as `run` refuses a watched pipeline; --force watches anyway.
 */
function refuseRunState(stateDir: string, target: WatchTarget): void {
  if (!fs.existsSync(path.join(stateDir, "state.db"))) return;
  const state = openState(stateDir);
  let run: string | undefined;
  try {
    run = state.latestRun()?.id;
  } finally {
    state.close();
  }
  if (!run) return;
  throw new BatchpipeError(
    ErrorCodes.USAGE,
    `this pipeline was processed by \`batchpipe run\` (run ${run}, state ${stateDir}): a watcher would take the files of ${target.describe} that run read as new ones and deliver their records again`,
    {
      hint: "Keep using `batchpipe run` for it; or watch with another pipeline name or --state-dir and other sink paths; or move the files the run read out of the folder and pass --force (from code: force: true): the watcher then appends to the run's sinks (it does not know the ids that run delivered).",
    },
  );
}

function watchTarget(pipeline: EnginePipeline): WatchTarget {
  const options = pipeline.source.options as Record<string, unknown> | undefined;
  const source = typeof options?.path === "string" ? options.path : undefined;
  if (!source) {
    throw new BatchpipeError(
      ErrorCodes.USAGE,
      `batchpipe watch needs a source with a \`path\` option (a folder or a glob); ${pipeline.source.label} has none`,
      {
        hint: "Use a file source (jsonl, csv, parquet) with path: ./inbox/ or a glob (path: ./inbox/*.jsonl)",
      },
    );
  }
  const target = path.resolve(pipeline.dir, source);
  // a pipe holds one stream, not files that arrive: watching it would wait for nothing
  if (source === STDIN_PATH || isStreamInput(target)) {
    throw new BatchpipeError(
      ErrorCodes.USAGE,
      `batchpipe watch reads files that arrive in a folder; ${source === STDIN_PATH ? "standard input" : `the named pipe ${target}`} is read by \`batchpipe run\``,
      {
        hint: "Use `batchpipe run` (from code: runSpec) for a pipe, or path: ./inbox/ (a folder) for watch.",
      },
    );
  }
  return resolveWatchTarget(target, {
    folder: /[\\/]$/.test(source),
    extensions: pipeline.source.plugin.extensions,
  });
}
