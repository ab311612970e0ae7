/**
 * Every sink of a run, opened at its last recorded checkpoint. A delivery writes rows (successes to
 * `sinks`, failures to `errors`), commits every sink with the delivery key and returns the new
 * checkpoints, which the caller records in one state transaction: that record is the commit point.
 */
import path from "node:path";
import { BatchpipeError, ErrorCodes } from "../errors.js";
import type { Checkpoint, Logger, ResultRow, SinkHandle, SinkPlugin } from "../plugin.js";
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

export class SinkSet {
  private constructor(
    private readonly sinks: OpenSink[],
    private readonly buffers: { sinks: ResultRow[]; errors: ResultRow[] },
  ) {}

  static async open(options: {
    pipeline: EnginePipeline;
    state: StateStore;
    runId: string;
    logger: Logger;
    signal: AbortSignal;
  }): Promise<SinkSet> {
    const { pipeline, state, runId, logger, signal } = options;
    const opened: OpenSink[] = [];
    const resolvePath = (p: string) => path.resolve(pipeline.dir, p);
    const openOne = async (
      role: "sinks" | "errors",
      index: number,
      ref: EngineResolvedPlugin<SinkPlugin>,
    ) => {
      const key = sinkKey(runId, role, index, ref.use);
      try {
        const handle = await ref.plugin.open({
          options: ref.options,
          resolvePath,
          logger,
          signal,
          checkpoint: state.sinkCheckpoint(key),
        });
        opened.push({ key, role, label: ref.label, handle, skip: false });
      } catch (error) {
        throw pluginFailed(ref.label, "open", error);
      }
    };
    try {
      for (const [i, ref] of pipeline.sinks.entries()) await openOne("sinks", i, ref);
      for (const [i, ref] of pipeline.errors.entries()) await openOne("errors", i, ref);
    } catch (error) {
      await Promise.allSettled(opened.map((s) => s.handle.close()));
      throw error;
    }
    return new SinkSet(opened, { sinks: [], errors: [] });
  }

  /** start a delivery: sinks that already committed `key` are left out of it */
  async begin(key: string): Promise<void> {
    this.buffers.sinks = [];
    this.buffers.errors = [];
    for (const sink of this.sinks) {
      sink.skip = false;
      if (sink.handle.committed) {
        try {
          sink.skip = await sink.handle.committed(key);
        } catch (error) {
          throw pluginFailed(sink.label, "committed", error);
        }
      }
    }
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
    for (const sink of this.sinks) {
      try {
        checkpoints[sink.key] = await sink.handle.commit(key);
      } catch (error) {
        throw pluginFailed(sink.label, "commit", error);
      }
    }
    return checkpoints;
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.sinks.map((s) => s.handle.close()));
  }

  private async flush(role: "sinks" | "errors"): Promise<void> {
    const rows = this.buffers[role];
    if (rows.length === 0) return;
    this.buffers[role] = [];
    for (const sink of this.sinks) {
      if (sink.role !== role || sink.skip) continue;
      try {
        await sink.handle.write(rows);
      } catch (error) {
        throw pluginFailed(sink.label, "write", error);
      }
    }
  }
}

export function sinkKey(runId: string, role: string, index: number, use: string): string {
  return `${runId}|${role}[${index}]:${use}`;
}

function pluginFailed(label: string, hook: string, error: unknown): BatchpipeError {
  if (error instanceof BatchpipeError) return error;
  return new BatchpipeError(
    ErrorCodes.PLUGIN_FAILED,
    `${label} failed in ${hook}: ${(error as Error)?.message ?? String(error)}`,
    {
      hint: "Fix the sink's problem and run again: the run resumes where it stopped.",
      plugin: label,
      cause: error,
    },
  );
}
