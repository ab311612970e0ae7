/** `pipelineRuns`: a pipeline's past runs, newest first, from its state (read-only, no lock). */
import fs from "node:fs";
import path from "node:path";
import { checkStateOwner, lockHolder, openState, type RunCounters, type RunStatus } from "../state/index.js";
import { defaultStateDir } from "./run-pipeline.js";
import type { EnginePipeline } from "./types.js";

export interface RunSummary {
  id: string;
  /** `stopped`: the run is unfinished and no process holds it (`run` again resumes it) */
  status: RunStatus | "stopped";
  createdAt: number;
  finishedAt: number | null;
  read: number | null;
  counters: RunCounters;
  estimatedCost: number | null;
}

export function pipelineRuns(
  pipeline: EnginePipeline,
  options: { stateDir?: string; limit?: number } = {},
): { name: string; stateDir: string; runs: RunSummary[] } {
  const stateDir = path.resolve(options.stateDir ?? defaultStateDir(pipeline));
  const result = { name: pipeline.spec.name, stateDir, runs: [] as RunSummary[] };
  if (!fs.existsSync(path.join(stateDir, "state.db"))) return result;
  checkStateOwner(stateDir, pipeline.spec.name, { claim: false });
  const running = lockHolder(stateDir) !== undefined;
  const state = openState(stateDir, { readOnly: true });
  try {
    for (const run of state.runs(options.limit ?? 50)) {
      result.runs.push({
        id: run.id,
        status: shownRunStatus(run.status, running),
        createdAt: run.createdAt,
        finishedAt: run.finishedAt,
        read: run.totals?.read ?? null,
        counters: run.counters,
        estimatedCost: run.totals?.estimatedCost ?? null,
      });
    }
  } finally {
    state.close();
  }
  return result;
}

/**
 * The status a run is shown with: the state's, except `stopped` for an unfinished run (reading or
 * running) that no process is running (it ended on an error, a signal or a kill; `run` resumes it).
 * `running`: whether a process holds the pipeline's lock.
 */
export function shownRunStatus(status: RunStatus, running: boolean): RunStatus | "stopped" {
  return (status === "reading" || status === "running") && !running ? "stopped" : status;
}
