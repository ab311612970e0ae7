/**
 * The plugin contract, checked where the engine takes what a plugin hands back: each item a source
 * yields, the handle a sink's `open` and a transform's `create` return. A plugin that breaks it
 * gets an error naming it and what it handed back, never a TypeError deep in the engine.
 */
import { BatchpipeError, ErrorCodes } from "../errors.js";
import type { SinkHandle, SourceItem, TransformHandle } from "../plugin.js";
import { describeExport } from "./shape.js";

/** an item a source yielded, as is; PLUGIN_INVALID naming the source when it is not a record */
export function checkSourceItem(item: unknown, label: string): SourceItem {
  const problem = itemProblem(item);
  if (problem) throw broken(label, `yielded ${problem}`, SOURCE_HINT);
  return item as SourceItem;
}

/** the handle a sink's open() returned, as is; PLUGIN_INVALID naming the sink when it lacks a hook */
export function checkSinkHandle(handle: unknown, label: string): SinkHandle {
  if (handle === null || typeof handle !== "object")
    throw broken(label, `open() returned ${describe(handle)}, not a sink handle`, SINK_HINT);
  const missing = ["write", "commit", "close"].filter(
    (hook) => typeof (handle as Record<string, unknown>)[hook] !== "function",
  );
  if (missing.length > 0)
    throw broken(
      label,
      `open() returned a handle without ${missing.map((m) => `${m}()`).join(", ")}`,
      SINK_HINT,
    );
  return handle as SinkHandle;
}

/** the handle a transform's create() returned, as is; PLUGIN_INVALID naming it without toRequest() */
export function checkTransformHandle(handle: unknown, label: string): TransformHandle {
  if (typeof (handle as { toRequest?: unknown } | null)?.toRequest !== "function")
    throw broken(
      label,
      `create() returned ${describe(handle)}, not a handle with toRequest()`,
      "create() returns { toRequest(record) { return { custom_id, url, body } } }; fix the plugin.",
    );
  return handle as TransformHandle;
}

// --- internal ---

const SOURCE_HINT =
  "A source yields { data: { ...fields }, position: { file, line }, cursor } per record (SourceRecord in @batchpipe/core/plugin); fix the plugin.";
const SINK_HINT =
  "open() returns { write(rows), commit(key), close() } (SinkHandle in @batchpipe/core/plugin); fix the plugin.";

/** what is wrong with a yielded item, or undefined for a record or an invalid-record marker */
function itemProblem(item: unknown): string | undefined {
  if (item === null || typeof item !== "object" || Array.isArray(item))
    return `${describe(item)} instead of a record`;
  const value = item as Record<string, unknown>;
  const position = value.position as Record<string, unknown> | null | undefined;
  const placed =
    position !== null &&
    typeof position === "object" &&
    typeof position.file === "string" &&
    typeof position.line === "number";
  if ("invalid" in value) {
    const invalid = value.invalid as Record<string, unknown> | null;
    if (invalid === null || typeof invalid !== "object" || typeof invalid.message !== "string")
      return "an invalid-record marker without { code, message }";
    return placed ? undefined : "an invalid-record marker without position { file, line }";
  }
  if (!("data" in value)) return `${describeExport(item)} instead of a record { data, position, cursor }`;
  const data = value.data;
  if (data === null || typeof data !== "object" || Array.isArray(data))
    return `a record whose data is ${describe(data)}, not an object of the record's fields`;
  return placed ? undefined : "a record without position { file, line }";
}

function describe(value: unknown): string {
  if (Array.isArray(value)) return "a list";
  return describeExport(value).replace(/^nothing .*$/, "undefined");
}

function broken(label: string, message: string, hint: string): BatchpipeError {
  return new BatchpipeError(ErrorCodes.PLUGIN_INVALID, `${label} broke the plugin contract: ${message}`, {
    hint,
    plugin: label,
  });
}
