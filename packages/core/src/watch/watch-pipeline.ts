/**
 * `watchPipeline`: run a pipeline over every file that appears in its source's folder or glob.
 *
 * A file is taken once it is fully written (chokidar's awaitWriteFinish), copied to a snapshot and
 * hashed; a file version (path + sha256) is processed once, ever (the registry). Files that arrive
 * within `coalesce` of each other form one group, run as one engine run, so small files share
 * batches (one batch per file would hit the provider's batch creation limit). Groups run one after
 * another; every group writes to the same sinks. Rows carry `source.file`: the original path.
 */
import { createHash } from "node:crypto";
import { setMaxListeners } from "node:events";
import fs from "node:fs";
import path from "node:path";
import { pipeline as pipe } from "node:stream/promises";
import { watch as chokidarWatch, type FSWatcher } from "chokidar";
import { runPipeline } from "../engine/run-pipeline.js";
import type { EngineEvent, EnginePipeline, EngineTuning, RunResult } from "../engine/types.js";
import { BatchpipeError, ErrorCodes } from "../errors.js";
import { acquireLock, openState } from "../state/index.js";
import { createCarrySink, createGroupSource, type FileCounts } from "./group-plugins.js";
import { type GroupRow, openRegistry, type WatchedFile, type WatchRegistry } from "./registry.js";
import { resolveWatchTarget, type WatchTarget } from "./target.js";

export type WatchEvent =
  | { type: "watching"; target: string; root: string; once: boolean }
  | { type: "file_queued"; file: string; sha: string; bytes: number }
  | { type: "file_skipped"; file: string; sha: string; reason: "already processed" }
  | { type: "group_started"; group: number; files: string[]; resumed: boolean }
  | { type: "group_run"; group: number; run: string }
  /** the file was read: `records` become requests (or failures) of the group's run */
  | { type: "file_read"; group: number; file: string; records: number }
  | { type: "file_done"; group: number; file: string; succeeded: number; failed: number }
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
  /** passed to each group's runPipeline */
  engine?: EngineTuning;
  /** ms a file's size must stay unchanged before it counts as written (default 1000) */
  settle?: number;
  /** ms without a new file before a group starts (default 2000; a group waits at most 10× this) */
  coalesce?: number;
  /** the most files in one group (default 1000) */
  maxGroupFiles?: number;
}

export interface WatchSummary {
  groups: number;
  /** files processed */
  files: number;
  /** files that could not be processed (see the group_failed events) */
  filesFailed: number;
  succeeded: number;
  failed: number;
}

export async function watchPipeline(
  pipeline: EnginePipeline,
  options: WatchOptions = {},
): Promise<WatchSummary> {
  const stateDir = path.resolve(
    options.stateDir ?? path.join(pipeline.dir, ".batchpipe", pipeline.spec.name),
  );
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
  const lock = acquireLock(watchDir, { command: "watch" });
  const registry = openRegistry(watchDir);
  const summary: WatchSummary = { groups: 0, files: 0, filesFailed: 0, succeeded: 0, failed: 0 };
  const ctx: GroupContext = { pipeline, stateDir, registry, emit, signal, options, summary };
  let watcher: FSWatcher | undefined;
  try {
    emit({ type: "watching", target: target.describe, root: target.root, once: Boolean(options.once) });
    removeStaleSnapshots(watchDir, registry);
    // groups a previous watcher left unfinished come first, in order
    for (const group of registry.pendingGroups()) await runGroup(ctx, group, true);
    const queue = createQueue(ctx, target, watchDir);
    if (options.once) {
      const files = await settledFiles(target, excluded(pipeline, stateDir), options.settle ?? 1000, signal);
      for (const file of files) await queue.offer(file);
      await queue.drain();
      return summary;
    }
    watcher = chokidarWatch(target.root, {
      depth: target.depth,
      ignoreInitial: false,
      awaitWriteFinish: { stabilityThreshold: options.settle ?? 1000, pollInterval: 100 },
      ignored: (file, stats) => {
        if (isExcluded(file, excluded(pipeline, stateDir))) return true;
        return Boolean(stats?.isFile()) && !target.matches(path.resolve(file));
      },
    });
    // chokidar applies awaitWriteFinish only after its initial scan: a file found by the scan may
    // still be being written, so it gets the same settle wait here
    let scanned = false;
    watcher.on("ready", () => {
      scanned = true;
    });
    watcher.on("add", (file) => void queue.offer(path.resolve(file), { settle: !scanned }));
    watcher.on("change", (file) => void queue.offer(path.resolve(file), { settle: !scanned }));
    await new Promise<void>((resolve, reject) => {
      signal.addEventListener("abort", () => resolve(), { once: true });
      watcher!.on("error", (error) => reject(error));
      queue.onFatal(reject);
    });
    await queue.stop();
    throw interrupted();
  } finally {
    await watcher?.close();
    registry.close();
    lock.release();
  }
}

// --- internal ---

interface GroupContext {
  pipeline: EnginePipeline;
  stateDir: string;
  registry: WatchRegistry;
  emit: (event: WatchEvent) => void;
  signal: AbortSignal;
  options: WatchOptions;
  summary: WatchSummary;
}

function watchTarget(pipeline: EnginePipeline): WatchTarget {
  const options = pipeline.source.options as Record<string, unknown> | undefined;
  const source = typeof options?.path === "string" ? options.path : undefined;
  if (!source) {
    throw new BatchpipeError(
      ErrorCodes.USAGE,
      `batchpipe watch needs a source with a \`path\` option (a folder or a glob); ${pipeline.source.label} has none`,
      { hint: "Use the jsonl source with path: ./inbox/ or path: ./inbox/*.jsonl" },
    );
  }
  return resolveWatchTarget(path.resolve(pipeline.dir, source));
}

/** sink outputs and the state folder are never inputs, even inside the watched folder */
function excluded(pipeline: EnginePipeline, stateDir: string): string[] {
  const outputs = [...pipeline.sinks, ...pipeline.errors]
    .map((s) => (s.options as Record<string, unknown> | undefined)?.path)
    .filter((p): p is string => typeof p === "string")
    .map((p) => path.resolve(pipeline.dir, p));
  return [stateDir, ...outputs];
}

function isExcluded(file: string, excludedPaths: string[]): boolean {
  const absolute = path.resolve(file);
  return excludedPaths.some((p) => absolute === p || absolute.startsWith(`${p}${path.sep}`));
}

function listFiles(target: WatchTarget, excludedPaths: string[]): string[] {
  const out: string[] = [];
  const walk = (dir: string, depth: number) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (isExcluded(full, excludedPaths)) continue;
      if (entry.isDirectory() && (target.depth === undefined || depth < target.depth)) walk(full, depth + 1);
      else if (entry.isFile() && target.matches(full)) out.push(full);
    }
  };
  if (fs.existsSync(target.root)) walk(target.root, 0);
  return out.sort();
}

/** --once: the files there now, once their sizes stopped changing for `settle` ms */
async function settledFiles(
  target: WatchTarget,
  excludedPaths: string[],
  settle: number,
  signal: AbortSignal,
): Promise<string[]> {
  const sizes = (files: string[]) =>
    files.map((f) => fs.statSync(f, { throwIfNoEntry: false })?.size ?? -1).join(",");
  let files = listFiles(target, excludedPaths);
  let before = sizes(files);
  for (let i = 0; i < 600 && !signal.aborted; i++) {
    await sleep(settle, signal);
    const now = listFiles(target, excludedPaths);
    const after = sizes(now);
    if (after === before && now.join("\n") === files.join("\n")) break;
    files = now;
    before = after;
  }
  return files;
}

interface Queue {
  /** `settle`: wait until the file stops changing first (chokidar has not) */
  offer(file: string, options?: { settle?: boolean }): Promise<void>;
  /** run every queued file now (for --once) */
  drain(): Promise<void>;
  stop(): Promise<void>;
  onFatal(handler: (error: unknown) => void): void;
}

/** collects ready files and runs them in groups, one group at a time */
function createQueue(ctx: GroupContext, _target: WatchTarget, watchDir: string): Queue {
  const pending: WatchedFile[] = [];
  const inFlight = new Set<string>();
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  let fatal: (error: unknown) => void = () => {};
  let hashing = Promise.resolve();
  const coalesce = ctx.options.coalesce ?? 2000;
  const settle = ctx.options.settle ?? 1000;
  const maxFiles = ctx.options.maxGroupFiles ?? 1000;

  // a steady trickle of files must not postpone a group for ever
  const maxWait = coalesce * 10;
  let firstQueuedAt = 0;
  let scheduled = false;

  const flush = () => {
    timer = undefined;
    if (pending.length === 0 || scheduled) return;
    scheduled = true;
    running = running
      .then(async () => {
        scheduled = false;
        while (pending.length > 0 && !ctx.signal.aborted) {
          // files leave `pending` as their group enters the registry (both synchronous): a file
          // seen again in between is always recognised
          const group = ctx.registry.createGroup(pending.splice(0, maxFiles));
          await runGroup(ctx, group, false);
        }
        if (!ctx.options.once && !ctx.signal.aborted) ctx.emit({ type: "idle" });
      })
      .catch((error) => fatal(error));
  };

  return {
    offer(file, options) {
      // settle waits run side by side; hashing goes one file at a time, in arrival order
      const settled = options?.settle ? waitUntilStable(file, settle, ctx.signal) : undefined;
      hashing = hashing.then(async () => {
        await settled;
        if (ctx.signal.aborted || inFlight.has(file)) return;
        inFlight.add(file);
        try {
          const taken = await takeSnapshot(file, watchDir).catch(() => undefined);
          if (!taken) return;
          const snapshot = taken.file;
          if (
            ctx.registry.known(file, snapshot.sha) ||
            pending.some((p) => p.path === file && p.sha === snapshot.sha)
          ) {
            // only the fresh copy goes: the queued version's snapshot is the same name
            fs.rmSync(taken.temp, { force: true });
            ctx.emit({ type: "file_skipped", file, sha: snapshot.sha, reason: "already processed" });
            return;
          }
          fs.renameSync(taken.temp, snapshot.snapshot);
          if (pending.length === 0) firstQueuedAt = Date.now();
          pending.push(snapshot);
          ctx.emit({ type: "file_queued", file, sha: snapshot.sha, bytes: snapshot.size });
          if (timer) clearTimeout(timer);
          timer = setTimeout(flush, Math.max(0, Math.min(coalesce, firstQueuedAt + maxWait - Date.now())));
        } finally {
          inFlight.delete(file);
        }
      });
      return hashing;
    },
    async drain() {
      await hashing;
      if (timer) clearTimeout(timer);
      flush();
      await running;
    },
    async stop() {
      if (timer) clearTimeout(timer);
      await hashing.catch(() => undefined);
      await running.catch(() => undefined);
    },
    onFatal(handler) {
      fatal = handler;
    },
  };
}

/** resolves once the file's size and mtime have not changed for `settle` ms (or it is gone) */
async function waitUntilStable(file: string, settle: number, signal: AbortSignal): Promise<void> {
  const look = () => {
    const stats = fs.statSync(file, { throwIfNoEntry: false });
    return stats ? `${stats.size}:${stats.mtimeMs}` : undefined;
  };
  let before = look();
  while (before !== undefined && !signal.aborted) {
    await sleep(settle, signal);
    const now = look();
    if (now === before) return;
    before = now;
  }
}

/** copy the file to a temp file in the snapshot folder, hashing it on the way; `file.snapshot` is where it belongs */
async function takeSnapshot(file: string, watchDir: string): Promise<{ file: WatchedFile; temp: string }> {
  const dir = path.join(watchDir, "snapshots");
  fs.mkdirSync(dir, { recursive: true });
  const temp = path.join(dir, `.incoming-${process.pid}-${Date.now()}`);
  const hash = createHash("sha256");
  let size = 0;
  await pipe(
    fs.createReadStream(file),
    async function* (chunks: AsyncIterable<Buffer>) {
      for await (const chunk of chunks) {
        hash.update(chunk);
        size += chunk.length;
        yield chunk;
      }
    },
    fs.createWriteStream(temp),
  );
  const sha = hash.digest("hex");
  // keep the extension: the source reads .gz files as gzip
  const ext = file.endsWith(".gz") ? ".jsonl.gz" : ".jsonl";
  // named by path and content: two paths with the same content are two inputs
  const name = createHash("sha256").update(file).digest("hex").slice(0, 12);
  const snapshot = path.join(dir, `${sha.slice(0, 32)}-${name}${ext}`);
  return { file: { path: file, sha, size, snapshot }, temp };
}

/** run one group to its end: resume its run, or only record it when its run already finished */
async function runGroup(ctx: GroupContext, group: GroupRow, resumed: boolean): Promise<void> {
  const { registry, emit } = ctx;
  const files = group.files.map((f) => f.path);
  if (group.runId) {
    const finished = finishedRun(ctx.stateDir, group.runId);
    if (finished) {
      registry.finishGroup(group.id, "done", { run: group.runId, status: finished });
      cleanSnapshots(group);
      return;
    }
  }
  emit({ type: "group_started", group: group.id, files, resumed });
  let attempt = 0;
  for (;;) {
    const counts: FileCounts = new Map();
    // a signal per run: listeners the engine leaves on it do not pile up over a long watch
    const controller = new AbortController();
    const abort = () => controller.abort();
    ctx.signal.addEventListener("abort", abort, { once: true });
    try {
      const result = await runPipeline(groupPipeline(ctx, group, counts), {
        ...ctx.options.engine,
        signal: controller.signal,
        stateDir: ctx.stateDir,
        env: ctx.options.env,
        onEvent: (event) => {
          if (event.type === "run_started") {
            registry.setRun(group.id, event.run);
            emit({ type: "group_run", group: group.id, run: event.run });
          }
          emit({ type: "engine", group: group.id, event });
        },
      });
      registry.finishGroup(group.id, "done", { run: result.run, status: result.status }, counts);
      cleanSnapshots(group);
      ctx.summary.groups++;
      ctx.summary.files += group.files.length;
      ctx.summary.succeeded += result.report.succeeded;
      ctx.summary.failed += result.report.failed;
      for (const file of files) {
        const c = counts.get(file) ?? { succeeded: 0, failed: 0 };
        emit({ type: "file_done", group: group.id, file, succeeded: c.succeeded, failed: c.failed });
      }
      emit({ type: "group_finished", group: group.id, status: result.status, report: result.report });
      return;
    } catch (error) {
      if (ctx.signal.aborted) throw interrupted();
      const failure = asBatchpipeError(error);
      const retry = resumable(ctx.stateDir, failure);
      if (!retry && group.files.length > 1) {
        // ids collide across files, or one file is unreadable: each file becomes its own run, so
        // only the file at fault fails
        const groups = registry.splitGroup(group.id);
        emit({
          type: "group_split",
          group: group.id,
          groups: groups.map((g) => g.id),
          reason: failure.message,
        });
        for (const single of groups) await runGroup(ctx, single, false);
        return;
      }
      if (!retry) {
        registry.finishGroup(group.id, "failed", { error: failure.message, code: failure.code });
        ctx.summary.filesFailed += group.files.length;
        cleanSnapshots(group);
        emit({ type: "group_failed", group: group.id, files, error: failure });
        return;
      }
      attempt++;
      const inMs = Math.min(60_000, 1000 * 2 ** Math.min(attempt, 6));
      emit({ type: "group_retry", group: group.id, error: failure, inMs });
      await sleep(inMs, ctx.signal);
      if (ctx.signal.aborted) throw interrupted();
    } finally {
      ctx.signal.removeEventListener("abort", abort);
    }
  }
}

function groupPipeline(ctx: GroupContext, group: GroupRow, counts: FileCounts): EnginePipeline {
  const { pipeline, stateDir } = ctx;
  return {
    ...pipeline,
    source: createGroupSource(pipeline.source, group.files, (file, records) =>
      ctx.emit({ type: "file_read", group: group.id, file, records }),
    ),
    sinks: pipeline.sinks.map((ref, index) =>
      createCarrySink(ref, { role: "sinks", index, stateDir, counts: index === 0 ? counts : undefined }),
    ),
    errors: pipeline.errors.map((ref, index) =>
      createCarrySink(ref, { role: "errors", index, stateDir, counts: index === 0 ? counts : undefined }),
    ),
  };
}

/** the status of a finished engine run, or undefined while it is unfinished (or unknown) */
function finishedRun(stateDir: string, runId: string): string | undefined {
  if (!fs.existsSync(path.join(stateDir, "state.db"))) return undefined;
  const state = openState(stateDir);
  try {
    const run = state.getRun(runId);
    return run && run.status !== "reading" && run.status !== "running" ? run.status : undefined;
  } finally {
    state.close();
  }
}

/** a failure the next attempt may get past: the run is unfinished (resumes), or the pipeline was locked */
function resumable(stateDir: string, error: BatchpipeError): boolean {
  if (error.code === ErrorCodes.STATE_FAILED || error.code === ErrorCodes.PROVIDER_FAILED) return true;
  if (!fs.existsSync(path.join(stateDir, "state.db"))) return false;
  const state = openState(stateDir);
  try {
    return state.unfinishedRun() !== undefined;
  } finally {
    state.close();
  }
}

/** snapshots no pending group needs: left by a crash between the copy and the registry insert */
function removeStaleSnapshots(watchDir: string, registry: WatchRegistry): void {
  const dir = path.join(watchDir, "snapshots");
  if (!fs.existsSync(dir)) return;
  const keep = new Set(
    registry.pendingGroups().flatMap((g) => g.files.map((f) => path.basename(f.snapshot))),
  );
  for (const name of fs.readdirSync(dir))
    if (!keep.has(name)) fs.rmSync(path.join(dir, name), { force: true });
}

function cleanSnapshots(group: GroupRow): void {
  for (const f of group.files) fs.rmSync(f.snapshot, { force: true });
}

function asBatchpipeError(error: unknown): BatchpipeError {
  if (error instanceof BatchpipeError) return error;
  return new BatchpipeError(ErrorCodes.PLUGIN_FAILED, (error as Error)?.message ?? String(error), {
    cause: error,
  });
}

function interrupted(): BatchpipeError {
  return new BatchpipeError(ErrorCodes.INTERRUPTED, "interrupted; the state is saved", {
    hint: "Run the same command again: unfinished files resume, finished ones are not processed again.",
  });
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}
