/**
 * One group of files, run as one engine run to its end: resumed after a crash, retried while the
 * failure is one a later attempt may get past, split when it is not (registry.splitGroup). A file
 * the source fails in ends at its failure and is marked failed; the run goes on with the others.
 */
import fs from "node:fs";
import path from "node:path";
import { runPipeline } from "../engine/run-pipeline.js";
import type { EnginePipeline } from "../engine/types.js";
import { BatchpipeError, ErrorCodes, isBatchpipeError } from "../errors.js";
import type { ResultRow } from "../plugin.js";
import { openState } from "../state/index.js";
import { cleanSnapshots, sleep } from "./files.js";
import { createCarrySink, createGroupSource } from "./group-plugins.js";
import type { GroupRow, Recorded } from "./registry.js";
import type { GroupContext } from "./types.js";

/** run one group to its end: resume its run, or only record it when its run already finished */
export async function runGroup(ctx: GroupContext, group: GroupRow, resumed: boolean): Promise<void> {
  const { registry, emit } = ctx;
  const files = group.files.map((f) => f.path);
  if (group.runId) {
    const finished = finishedRun(ctx.stateDir, group.runId);
    if (finished) {
      withRecorded(ctx.stateDir, (recorded) =>
        registry.finishGroup(group.id, "done", { run: group.runId, status: finished }, recorded),
      );
      cleanSnapshots(group);
      return;
    }
  }
  emit({ type: "group_started", group: group.id, files, resumed });
  let attempt = 0;
  for (;;) {
    // a signal per run: listeners the engine leaves on it do not pile up over a long watch
    const controller = new AbortController();
    const abort = () => controller.abort();
    ctx.signal.addEventListener("abort", abort, { once: true });
    const pipeline = groupPipeline(ctx, group);
    try {
      const result = await runPipeline(pipeline, {
        signal: controller.signal,
        stateDir: ctx.stateDir,
        env: ctx.options.env,
        force: ctx.options.force,
        noCache: ctx.options.noCache,
        ...ctx.options.engine,
        // exactly once per id across files: an id an earlier group delivered fails as duplicate_id
        deliveredBefore: (id) => registry.deliveredBefore(id, group.id),
        onEvent: (event) => {
          if (event.type === "run_started") {
            registry.setRun(group.id, event.run);
            emit({ type: "group_run", group: group.id, run: event.run });
          }
          emit({ type: "engine", group: group.id, event });
        },
      });
      // counted over every process that ran the group (a resumed one delivers only the rest)
      const counts = withRecorded(ctx.stateDir, (recorded) => {
        registry.finishGroup(group.id, "done", { run: result.run, status: result.status }, recorded);
        return registry.fileCounts(group.id, recorded);
      });
      // the files the source failed in, whichever process read them
      const cut = registry.failedFiles(group.id);
      cleanSnapshots(group);
      ctx.summary.groups++;
      ctx.summary.files += group.files.length - cut.size;
      ctx.summary.filesFailed += cut.size;
      ctx.summary.succeeded += result.report.succeeded;
      ctx.summary.failed += result.report.failed;
      for (const file of files) {
        const c = counts.get(file) ?? { succeeded: 0, failed: 0 };
        const status = cut.has(file) ? "failed" : "done";
        emit({ type: "file_done", group: group.id, file, succeeded: c.succeeded, failed: c.failed, status });
      }
      emit({ type: "group_finished", group: group.id, status: result.status, report: result.report });
      return;
    } catch (error) {
      if (ctx.signal.aborted) throw interrupted();
      const failure = asBatchpipeError(error);
      // every group would be refused the same way: the watcher stops, its files stay unprocessed
      if (failure.code === ErrorCodes.STATE_LOST) throw failure;
      const retry = resumable(ctx.stateDir, failure);
      if (!retry && group.files.length > 1) {
        // no file is known to be at fault (the source's failures end their file instead): each
        // file becomes its own run, so that only the files the failure comes back with fail
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

function groupPipeline(ctx: GroupContext, group: GroupRow): EnginePipeline {
  const { pipeline, stateDir } = ctx;
  // the rows of the first sink and the first errors sink are counted per file, once per commit key
  const committed = (role: string, index: number) => (rows: ResultRow[], key: string) =>
    ctx.registry.recordDelivered(
      group.id,
      rows.map((r) => ({ id: r.id, file: r.source.file, ok: r.status === "success" })),
      index === 0 ? `${role}:${key}` : undefined,
    );
  return {
    ...pipeline,
    source: createGroupSource(pipeline.source, group.files, {
      fileRead: (file, records) => ctx.emit({ type: "file_read", group: group.id, file, records }),
      fileFailed: (index, records, thrown) => {
        const file = group.files[index]!;
        const error = asBatchpipeError(thrown);
        const kept = `its ${records.toLocaleString("en-US")} record(s) before it are processed`;
        const cut = new BatchpipeError(error.code, error.message, {
          hint: `${error.hint ? `${error.hint} ` : ""}The file ends there: ${kept}. A new version of the file is processed as a new file (the ids delivered from this one fail as duplicate_id).`,
          loc: error.loc,
          recordId: error.recordId,
          cause: error,
        });
        ctx.registry.failFile(group.id, file);
        ctx.emit({ type: "file_failed", group: group.id, file: file.path, records, error: cut });
      },
    }),
    sinks: pipeline.sinks.map((ref, index) =>
      createCarrySink(ref, {
        role: "sinks",
        index,
        stateDir,
        onCommitted: committed("sinks", index),
      }),
    ),
    errors: pipeline.errors.map((ref, index) =>
      createCarrySink(ref, {
        role: "errors",
        index,
        stateDir,
        onCommitted: committed("errors", index),
      }),
    ),
  };
}

/** `use` with the state's record of deliveries (Recorded), the state closed after */
function withRecorded<T>(stateDir: string, use: (recorded: Recorded) => T): T {
  const state = openState(stateDir);
  try {
    return use((key) => state.delivered(key));
  } finally {
    state.close();
  }
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
  if (
    error.code === ErrorCodes.STATE_FAILED ||
    error.code === ErrorCodes.PROVIDER_FAILED ||
    error.code === ErrorCodes.PROVIDER_UNREACHABLE
  )
    return true;
  if (!fs.existsSync(path.join(stateDir, "state.db"))) return false;
  const state = openState(stateDir);
  try {
    return state.unfinishedRun() !== undefined;
  } finally {
    state.close();
  }
}

function asBatchpipeError(error: unknown): BatchpipeError {
  if (isBatchpipeError(error)) return error;
  return new BatchpipeError(ErrorCodes.PLUGIN_FAILED, (error as Error)?.message ?? String(error), {
    cause: error,
  });
}

export function interrupted(): BatchpipeError {
  return new BatchpipeError(ErrorCodes.INTERRUPTED, "interrupted; the state is saved", {
    hint: "Run the same command again: unfinished files resume, finished ones are not processed again.",
  });
}
