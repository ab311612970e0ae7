/**
 * The pipelines a viewer shows, and where each run's records are. batchpipe keeps no copy of the
 * results: they are in the pipeline's first jsonl sink (successes) and first jsonl error sink
 * (failures). A jsonl sink starts empty at each run that delivers (the engine's sink key includes
 * the run id), so its file holds the records of the latest such run, up to the byte offset that run
 * last committed: bytes past it are not durable yet and are not shown.
 */
import path from "node:path";
import type { RunRow } from "@batchpipe/core";
import { defaultStateDir, type EnginePipeline } from "@batchpipe/core";
import { StateReader } from "./state-reader.js";

export interface ViewPipeline {
  /** the pipeline's key in URLs (its position in the list) */
  key: string;
  name: string;
  /** the spec file, null for a pipeline built in code */
  file: string | null;
  pipeline: EnginePipeline;
  state: StateReader;
  results: SinkFile | null;
  errors: SinkFile | null;
}

export interface SinkFile {
  path: string;
  /** the engine's sink key without the run id: `sinks[0]:jsonl` */
  slot: string;
}

/** statuses of runs that opened their sinks (a run still reading or skipped has not touched them) */
const DELIVERING = new Set(["running", "done", "cancelled"]);

export function createCatalog(pipelines: { pipeline: EnginePipeline; stateDir?: string }[]): ViewPipeline[] {
  return pipelines.map(({ pipeline, stateDir }, i) => ({
    key: String(i),
    name: pipeline.spec.name,
    file: pipeline.file,
    pipeline,
    state: new StateReader(path.resolve(stateDir ?? defaultStateDir(pipeline))),
    results: firstJsonl(pipeline, "sinks"),
    errors: firstJsonl(pipeline, "errors"),
  }));
}

export interface RecordFile {
  /** "s" successes, "e" failures */
  tag: "s" | "e";
  path: string;
  /** bytes committed by the run */
  limit: number;
}

export interface RunRowFiles {
  files: RecordFile[];
  /** why some or all of the run's records cannot be shown */
  note: string | null;
}

/** the files holding `run`'s records, each with the bytes the run committed to it */
export function recordFiles(view: ViewPipeline, run: RunRow): RunRowFiles {
  const files: RecordFile[] = [];
  const notes: string[] = [];
  if (run.status === "skipped") {
    return { files, note: "This run was skipped: the dataset had been processed already, nothing was sent." };
  }
  const owner = view.state.runs().find((r) => DELIVERING.has(r.status));
  for (const [tag, sink] of [
    ["s", view.results],
    ["e", view.errors],
  ] as const) {
    const role = tag === "s" ? "successes" : "failures";
    if (!sink) {
      notes.push(
        `the pipeline has no jsonl ${tag === "s" ? "sink" : "error sink"}: its ${role} are not shown`,
      );
      continue;
    }
    if (owner && owner.id !== run.id && DELIVERING.has(run.status)) {
      notes.push(`${path.basename(sink.path)} now holds the records of run ${owner.id}`);
      continue;
    }
    const checkpoint = view.state.checkpoint(`${run.id}|${sink.slot}`);
    files.push({ tag, path: sink.path, limit: typeof checkpoint === "number" ? checkpoint : 0 });
  }
  return { files, note: notes.length > 0 ? `${notes.join("; ")}.` : null };
}

function firstJsonl(pipeline: EnginePipeline, role: "sinks" | "errors"): SinkFile | null {
  const index = pipeline[role].findIndex((ref) => ref.use === "jsonl");
  if (index === -1) return null;
  const ref = pipeline[role][index]!;
  const file = (ref.options as { path?: unknown }).path;
  if (typeof file !== "string") return null;
  return { path: path.resolve(pipeline.dir, file), slot: `${role}[${index}]:${ref.use}` };
}
