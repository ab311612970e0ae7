/**
 * The pipelines a viewer shows, and where each run's records are. batchpipe keeps no copy of the
 * results: they are in the pipeline's first jsonl sink (successes) and first jsonl error sink
 * (failures). A jsonl sink starts empty at each run that delivers (the engine's sink key includes
 * the run id), so its file holds the records of the latest such run; with `append: true`, and in
 * watch mode (each file group a run carrying the sinks on from the run before), a run adds its
 * records after those of the runs before it instead. A run's records are the bytes from where it
 * started (the checkpoint the run before it ended at, when it appended; 0 when it started the file
 * afresh) to the byte offset it last committed: bytes past it are not durable yet and are not shown.
 */
import fs from "node:fs";
import path from "node:path";
import type { RunRow } from "@batchpipe/core";
import { defaultStateDir, type EnginePipeline } from "@batchpipe/core";
import { StateReader } from "./state-reader.js";

export interface ViewPipeline {
  /**
   * the pipeline's key in URLs: its name (`name~2`, `name~3` for a second and third spec of the same
   * name), so a link stays good when the viewer lists other specs beside it or in another order
   */
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
  /** `append: true`: each run adds its rows after those of the runs before it */
  append: boolean;
  /** its rows keep the whole response (`fields: all`, or `response` among them) */
  keepsResponse: boolean;
}

export interface CatalogEntry {
  pipeline: EnginePipeline;
  stateDir?: string;
}

/**
 * The pipelines listed, in the order they came: those the viewer started with, then those added
 * while it runs (a spec written into a watched folder). A pipeline keeps its key while listed; one
 * whose spec file is gone (deleted, or renamed: the new name is listed anew) is dropped, and its key
 * goes to the next spec of that name (a renamed spec's open pages keep working).
 */
export interface Catalog {
  list: ViewPipeline[];
  /**
   * lists the pipelines not listed yet (a pipeline built in code is always new); one whose spec file
   * is listed replaces it (the spec edited): same name, same key and state
   */
  add(pipelines: CatalogEntry[]): void;
  /** drops the pipelines whose spec file no longer exists */
  prune(): void;
  /** the spec file of the pipeline `key` named until it was dropped (and its key not given again) */
  gone(key: string): string | undefined;
}

export function createCatalog(pipelines: CatalogEntry[]): Catalog {
  /** the listed spec files, each with the state folder it was given (undefined: the default) */
  const files = new Map<string, string | undefined>();
  const dropped = new Map<string, string>();
  const catalog: Catalog = {
    list: [],
    add(more) {
      for (const { pipeline, stateDir: given } of more) {
        const file = pipeline.file;
        // a spec listed already comes again when it was edited: it is shown as it is now
        const at = file === null ? -1 : catalog.list.findIndex((view) => view.file === file);
        const stateDir = path.resolve(
          given ?? (file !== null ? files.get(file) : undefined) ?? defaultStateDir(pipeline),
        );
        if (file !== null) files.set(file, given ?? files.get(file));
        const old = catalog.list[at];
        const same = old !== undefined && old.name === pipeline.spec.name && old.state.dir === stateDir;
        if (old && !same) {
          old.state.close();
          catalog.list.splice(at, 1);
        }
        const view = {
          key: same ? old.key : keyOf(pipeline.spec.name, catalog.list),
          name: pipeline.spec.name,
          file,
          pipeline,
          state: same ? old.state : new StateReader(stateDir),
          results: firstJsonl(pipeline, "sinks"),
          errors: firstJsonl(pipeline, "errors"),
        };
        dropped.delete(view.key);
        if (same) catalog.list[at] = view;
        else if (old) catalog.list.splice(at, 0, view);
        else catalog.list.push(view);
      }
    },
    prune() {
      catalog.list = catalog.list.filter((view) => {
        if (view.file === null || fs.existsSync(view.file)) return true;
        files.delete(view.file);
        dropped.set(view.key, view.file);
        view.state.close();
        return false;
      });
    },
    gone: (key) => dropped.get(key),
  };
  catalog.add(pipelines);
  return catalog;
}

export interface RecordFile {
  /** "s" successes, "e" failures */
  tag: "s" | "e";
  path: string;
  /** where the run's records start */
  start: number;
  /** bytes committed by the run */
  limit: number;
}

export interface RunRowFiles {
  files: RecordFile[];
  /** why some or all of the run's records cannot be shown */
  note: string | null;
}

/** the files holding `run`'s records, each with the bytes the run wrote to it */
export function recordFiles(view: ViewPipeline, run: RunRow): RunRowFiles {
  const files: RecordFile[] = [];
  const notes: string[] = [];
  if (run.status === "skipped") {
    return { files, note: "This run was skipped: the dataset had been processed already, nothing was sent." };
  }
  const watched = view.state.watchRuns();
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
    const span = runSpan(view, sink, run.id, watched);
    // a run that wrote nothing to the file lost nothing when a later run started it afresh
    if (span.replacedBy.length > 0 && span.limit > span.start) {
      const [first, ...more] = span.replacedBy;
      const runs = more.length > 0 ? `runs ${first} to ${more.at(-1)}` : `run ${first}`;
      notes.push(`${path.basename(sink.path)} now holds the records of ${runs}`);
      continue;
    }
    files.push({ tag, path: sink.path, start: span.start, limit: span.limit });
  }
  return { files, note: notes.length > 0 ? `${notes.join("; ")}.` : null };
}

// --- internal ---

/** a pipeline's name, or the name with the first free rank among the listed specs of that name */
function keyOf(name: string, listed: ViewPipeline[]): string {
  const taken = new Set(listed.map((view) => view.key));
  let rank = 1;
  while (taken.has(rank === 1 ? name : `${name}~${rank}`)) rank++;
  return rank === 1 ? name : `${name}~${rank}`;
}

/**
 * Where `runId`'s rows are in the sink's file, from the checkpoints every run recorded for it in
 * order: a run that appends starts where the run before it ended, any other starts the file afresh
 * (and so replaces the rows of every run before it). `replacedBy`: the runs whose rows the file
 * holds now, when one of them started it afresh after `runId`.
 */
function runSpan(
  view: ViewPipeline,
  sink: SinkFile,
  runId: string,
  watched: Set<string>,
): { start: number; limit: number; replacedBy: string[] } {
  const history = view.state.sinkCheckpoints(sink.slot);
  const at = history.findIndex((h) => h.runId === runId);
  if (at === -1) return { start: 0, limit: 0, replacedBy: [] };
  const appends = (id: string) => sink.append || watched.has(id);
  const offset = (checkpoint: unknown) => (typeof checkpoint === "number" ? checkpoint : 0);
  const own = history[at]!;
  const limit = offset(own.checkpoint);
  // before its first delivery a run's checkpoint is where it started; after it, the run before's end
  const start = own.opened ? limit : appends(runId) && at > 0 ? offset(history[at - 1]!.checkpoint) : 0;
  const afresh = history.findLastIndex((h, i) => i > at && !appends(h.runId));
  const replacedBy = afresh === -1 ? [] : history.slice(afresh).map((h) => h.runId);
  return { start: Math.min(start, limit), limit, replacedBy };
}

function firstJsonl(pipeline: EnginePipeline, role: "sinks" | "errors"): SinkFile | null {
  const index = pipeline[role].findIndex((ref) => ref.use === "jsonl");
  if (index === -1) return null;
  const ref = pipeline[role][index]!;
  const {
    path: file,
    append,
    fields,
  } = ref.options as { path?: unknown; append?: unknown; fields?: unknown };
  if (typeof file !== "string") return null;
  return {
    path: path.resolve(pipeline.dir, file),
    slot: `${role}[${index}]:${ref.use}`,
    append: append === true,
    keepsResponse: fields === "all" || (Array.isArray(fields) && fields.includes("response")),
  };
}
