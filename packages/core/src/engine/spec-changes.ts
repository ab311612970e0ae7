/**
 * What a resumed run was begun with: a digest of each part of the spec, kept with the run, so a
 * resume after the spec was edited says so instead of going on silently with a mix (what was read
 * and sent before keeps the old spec).
 */
import { createHash } from "node:crypto";
import type { StateStore } from "../state/index.js";
import type { EnginePipeline } from "./types.js";

const key = (runId: string) => `spec:${runId}`;

/** a digest of each top-level part of the spec (provider, source, transform, sinks, batch, …) */
function specParts(pipeline: EnginePipeline): Record<string, string> {
  const parts: Record<string, string> = {};
  for (const [part, value] of Object.entries(pipeline.spec)) {
    if (part === "name" || part === "version") continue;
    parts[part] = createHash("sha256")
      .update(JSON.stringify(value, plainData) ?? "")
      .digest("hex")
      .slice(0, 16);
  }
  return parts;
}

/**
 * a spec given in code may hold plugin objects: their functions are left out by JSON, and objects of
 * a class (an options schema) are named, not walked (they may be circular)
 */
function plainData(_key: string, value: unknown): unknown {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return value;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null ? value : `[${proto?.constructor?.name ?? "object"}]`;
}

/** kept when a run begins */
export function rememberSpec(state: StateStore, runId: string, pipeline: EnginePipeline): void {
  state.setValue(key(runId), JSON.stringify(specParts(pipeline)));
}

/** the warning of a run resumed with another spec than it began with (none for runs begun before this was kept) */
export function specChangedWarning(
  state: StateStore,
  runId: string,
  pipeline: EnginePipeline,
): string | undefined {
  const saved = state.getValue(key(runId));
  if (saved === undefined) return undefined;
  const was = JSON.parse(saved) as Record<string, string>;
  const now = specParts(pipeline);
  const changed = [...new Set([...Object.keys(was), ...Object.keys(now)])].filter((p) => was[p] !== now[p]);
  if (changed.length === 0) return undefined;
  return `the spec's ${changed.join(", ")} changed since run ${runId} began: it resumes, and what it read, sent or delivered before keeps the spec it began with. To apply the change to every record, let the run end (or \`batchpipe cancel\` it (from code: cancelRun)), then run again: requests that succeeded are answered from the result cache`;
}
