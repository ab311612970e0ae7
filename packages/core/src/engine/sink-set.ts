/**
 * Every sink of a run, opened at its last recorded checkpoint. A delivery writes rows (successes to
 * `sinks`, failures to `errors`; a sink that keeps rows across runs is told the ids its rows of
 * earlier runs are stale for: SinkHandle.forget), commits every sink with the delivery key and
 * returns the new checkpoints, which the caller records in one state transaction: that record is
 * the commit point.
 */
import fs from "node:fs";
import path from "node:path";
import { BatchpipeError, ErrorCodes, isBatchpipeError } from "../errors.js";
import type { Checkpoint, Logger, ResultRow, SinkHandle, SinkPlugin } from "../plugin.js";
import { checkCheckpoint, checkSinkHandle } from "../plugins/contract.js";
import type { StateStore } from "../state/index.js";
import type { EnginePipeline, EngineResolvedPlugin } from "./types.js";

interface OpenSink {
  key: string;
  role: "sinks" | "errors";
  label: string;
  handle: SinkHandle;
  /** rows buffered for the current delivery */
  skip: boolean;
}

const ROWS_PER_WRITE = 500;
/** how long one sink call may take before the run stops with PLUGIN_FAILED */
export const DEFAULT_PLUGIN_TIMEOUT_MS = 5 * 60_000;

export class SinkSet {
  /**
   * which rows of the current delivery make the other role's rows of their id stale (begin's
   * `forget`): result sinks are told of failed ids, errors sinks of succeeded ones
   */
  private forgets: ((row: ResultRow) => boolean) | undefined;
  /** ids that failed before they were sent in this run: their failure rows may share an id with a success */
  private unsent: ReadonlySet<string> = new Set();

  private constructor(
    private readonly sinks: OpenSink[],
    private readonly buffers: { sinks: ResultRow[]; errors: ResultRow[] },
    private readonly timeoutMs: number,
  ) {}

  static async open(options: {
    pipeline: EnginePipeline;
    state: StateStore;
    runId: string;
    logger: Logger;
    signal: AbortSignal;
    /** per sink call; default DEFAULT_PLUGIN_TIMEOUT_MS */
    pluginTimeoutMs?: number;
  }): Promise<SinkSet> {
    const { pipeline, state, runId, logger, signal } = options;
    const timeoutMs = options.pluginTimeoutMs ?? DEFAULT_PLUGIN_TIMEOUT_MS;
    const opened: OpenSink[] = [];
    const resolvePath = (p: string) => path.resolve(pipeline.dir, p);
    const openOne = async (
      role: "sinks" | "errors",
      index: number,
      ref: EngineResolvedPlugin<SinkPlugin>,
    ) => {
      const key = sinkKey(runId, role, index, ref.use);
      keepPrivate(ref, resolvePath, [state.dir, path.join(pipeline.dir, ".batchpipe")]);
      const checkpoint = state.sinkCheckpoint(key);
      const openKey = `${key}|open`;
      let handle: SinkHandle;
      try {
        const opening = withTimeout(
          ref.plugin.open({
            options: ref.options,
            resolvePath,
            logger,
            signal,
            checkpoint,
          }),
          timeoutMs,
          ref.label,
          "open",
        );
        handle = checkSinkHandle(await opening, ref.label);
      } catch (error) {
        throw pluginFailed(ref.label, "open", error);
      }
      opened.push({ key, role, label: ref.label, handle, skip: false });
      if (checkpoint !== undefined) return;
      // a fresh sink's starting point is recorded before it gets a row: a run that crashes before
      // its first delivery is recorded resumes from there, not as fresh again (which would keep
      // what it wrote, e.g. in a jsonl file with append: true)
      const start = await commitOne(handle, openKey, ref.label, timeoutMs);
      // outside the sink's failures: the state's own (its disk full) is reported as such
      state.recordSinkCheckpoint(key, start, openKey);
    };
    try {
      for (const [i, ref] of pipeline.sinks.entries()) await openOne("sinks", i, ref);
      for (const [i, ref] of pipeline.errors.entries()) await openOne("errors", i, ref);
    } catch (error) {
      await Promise.allSettled(opened.map((s) => withTimeout(s.handle.close(), timeoutMs, s.label, "close")));
      throw error;
    }
    return new SinkSet(opened, { sinks: [], errors: [] }, timeoutMs);
  }

  /**
   * start a delivery: sinks that already committed `key` are left out of it; `forget`: the rows
   * whose id the sinks of the other role are told of (SinkHandle.forget): in a collection every
   * row (a failed request makes an earlier success stale, a success an earlier failure), among the
   * read's failures those that took their id
   */
  async begin(key: string, o: { forget?: (row: ResultRow) => boolean } = {}): Promise<void> {
    this.buffers.sinks = [];
    this.buffers.errors = [];
    this.forgets = o.forget;
    for (const sink of this.sinks) {
      sink.skip = false;
      if (sink.handle.committed) {
        try {
          sink.skip = await withTimeout(sink.handle.committed(key), this.timeoutMs, sink.label, "committed");
        } catch (error) {
          throw pluginFailed(sink.label, "committed", error);
        }
      }
    }
  }

  /** whether an errors sink drops failure rows of earlier runs for ids that succeed (SinkHandle.forget) */
  get clearsFailures(): boolean {
    return this.sinks.some((s) => s.role === "errors" && s.handle.forget !== undefined);
  }

  /** the ids of this run's failures before sending: a success of the same id never drops their rows */
  keepFailures(ids: ReadonlySet<string>): void {
    this.unsent = ids;
  }

  async write(row: ResultRow): Promise<void> {
    const role = row.status === "success" ? "sinks" : "errors";
    const buffer = this.buffers[role];
    buffer.push(row);
    if (buffer.length >= ROWS_PER_WRITE) await this.flush(role);
  }

  /** commit every sink; returns checkpoints by sink key */
  async commit(key: string): Promise<Record<string, Checkpoint>> {
    await this.flush("sinks");
    await this.flush("errors");
    const checkpoints: Record<string, Checkpoint> = {};
    for (const sink of this.sinks)
      checkpoints[sink.key] = await commitOne(sink.handle, key, sink.label, this.timeoutMs);
    return checkpoints;
  }

  /**
   * close every sink; returns what each sink that failed to close said (the run's results are
   * committed by then: the caller warns, it does not fail the run)
   */
  async close(): Promise<string[]> {
    const closed = await Promise.allSettled(
      this.sinks.map((s) => withTimeout(s.handle.close(), this.timeoutMs, s.label, "close")),
    );
    return closed.flatMap((outcome, i) => {
      if (outcome.status === "fulfilled") return [];
      const { label } = this.sinks[i]!;
      // a timeout already names the sink and the hook
      const what = isBatchpipeError(outcome.reason)
        ? outcome.reason.message
        : `${label} failed in close: ${describe(outcome.reason)}`;
      return [
        `${what} (the rows it committed are delivered; check that it released what it holds, e.g. a file or a connection)`,
      ];
    });
  }

  private async flush(role: "sinks" | "errors"): Promise<void> {
    const rows = this.buffers[role];
    if (rows.length === 0) return;
    this.buffers[role] = [];
    let ids: string[] | undefined;
    for (const sink of this.sinks) {
      if (sink.skip) continue;
      try {
        if (sink.role === role)
          await withTimeout(sink.handle.write(rows), this.timeoutMs, sink.label, "write");
        else if (this.forgets && sink.handle.forget) {
          // failures' ids for result sinks, successes' for errors sinks (not an id that failed
          // before it was sent in this run: its failure row stays)
          const forgets = this.forgets;
          ids ??= rows.flatMap((row) =>
            forgets(row) && (role === "errors" || !this.unsent.has(row.id)) ? [row.id] : [],
          );
          if (ids.length > 0)
            await withTimeout(sink.handle.forget(ids), this.timeoutMs, sink.label, "forget");
        }
      } catch (error) {
        throw pluginFailed(sink.label, sink.role === role ? "write" : "forget", error);
      }
    }
  }
}

export function sinkKey(runId: string, role: string, index: number, use: string): string {
  return `${runId}|${role}[${index}]:${use}`;
}

/** a hung plugin must not hang the run: after `ms` the call fails with an error naming the plugin */
function withTimeout<T>(call: Promise<T>, ms: number, label: string, hook: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  // not unref'd: a hung plugin may hold nothing else that keeps the process alive
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(
        new BatchpipeError(
          ErrorCodes.PLUGIN_FAILED,
          `${label} did not answer within ${formatMs(ms)} in ${hook}`,
          {
            hint: `The plugin hangs (a stuck lock or connection?). Fix it, or raise batch.plugin_timeout in the spec, and run again: the run resumes where it stopped.`,
            plugin: label,
          },
        ),
      );
    }, ms);
  });
  return Promise.race([Promise.resolve(call), timeout]).finally(() => clearTimeout(timer));
}

/** a sink's commit(key): its checkpoint, checked to survive JSON; PLUGIN_FAILED naming it when it throws */
async function commitOne(handle: SinkHandle, key: string, label: string, ms: number): Promise<Checkpoint> {
  let checkpoint: unknown;
  try {
    checkpoint = await withTimeout(handle.commit(key), ms, label, "commit");
  } catch (error) {
    throw pluginFailed(label, "commit", error);
  }
  return checkCheckpoint(checkpoint, label);
}

function formatMs(ms: number): string {
  return ms % 60_000 === 0 ? `${ms / 60_000} min` : ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}

function describe(error: unknown): string {
  return (error as Error)?.message ?? String(error);
}

function pluginFailed(label: string, hook: string, error: unknown): BatchpipeError {
  if (isBatchpipeError(error)) return error;
  return new BatchpipeError(ErrorCodes.PLUGIN_FAILED, `${label} failed in ${hook}: ${describe(error)}`, {
    hint: "Fix the sink's problem and run again: the run resumes where it stopped.",
    plugin: label,
    cause: error,
  });
}

/**
 * A sink writing inside a state folder (the default errors sink: `.batchpipe/<name>/errors.jsonl`)
 * writes full inputs: its file is made 0600 (and its folder 0700) before the sink opens it, as the
 * state's own files are. The paths come from the sink's `check` hook.
 */
function keepPrivate(
  ref: EngineResolvedPlugin<SinkPlugin>,
  resolvePath: (p: string) => string,
  privateDirs: readonly string[],
): void {
  const writes = ref.plugin.check?.({ options: ref.options, resolvePath, env: {} }).writes ?? [];
  for (const { path: file } of writes) {
    const inside = privateDirs.some((dir) => file.startsWith(path.resolve(dir) + path.sep));
    if (!inside || fs.existsSync(file)) continue;
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    fs.closeSync(fs.openSync(file, "a", 0o600));
  }
}
