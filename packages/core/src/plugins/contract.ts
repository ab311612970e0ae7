/**
 * The plugin contract, checked where the engine takes what a plugin hands back: each item a source
 * yields, the handle a sink's `open` and a transform's `create` return, each checkpoint a sink's
 * `commit` returns, each request a transform's `toRequest` returns. A plugin that breaks it
 * gets an error naming it and what it handed back, never a TypeError deep in the engine.
 */
import { BatchpipeError, ErrorCodes, isBatchpipeError } from "../errors.js";
import type {
  Checkpoint,
  Logger,
  ProviderPlugin,
  SinkHandle,
  SourceItem,
  SourceRecord,
  TransformHandle,
  TransformPlugin,
} from "../plugin.js";
import { describeExport } from "./shape.js";

/** an item a source yielded, as is; PLUGIN_INVALID naming the source when it is not a record */
export function checkSourceItem(item: unknown, label: string): SourceItem {
  const problem = itemProblem(item);
  if (problem) throw broken(label, `yielded ${problem}`, SOURCE_HINT);
  return item as SourceItem;
}

/**
 * what a source's read() returned, as is; PLUGIN_INVALID naming the source when it is not an async
 * iterable (a list, a promise of one): records stream one at a time from an async generator
 */
export function checkSourceItems(items: unknown, label: string): AsyncIterable<SourceItem> {
  if (typeof (items as { [Symbol.asyncIterator]?: unknown } | null)?.[Symbol.asyncIterator] === "function")
    return items as AsyncIterable<SourceItem>;
  // a `*read()` without `async` hands back a generator, which describeValue calls "an empty object"
  const syncIterable =
    typeof (items as { [Symbol.iterator]?: unknown } | null)?.[Symbol.iterator] === "function" &&
    !Array.isArray(items) &&
    typeof items !== "string";
  throw broken(
    label,
    `read() returned ${syncIterable ? "a generator that is not async (`*read` without `async`)" : describeValue(items)}, not an async iterable of records`,
    `Write read as an async generator, \`async *read(ctx) { ... yield { data, position, cursor } }\`, so records stream one at a time (SourcePlugin in ${PLUGIN_API}); fix the plugin.`,
  );
}

/**
 * a record's cursor; PLUGIN_INVALID naming the source when JSON would not give it back as is: it is
 * stored at each read checkpoint and handed back to read() as ctx.checkpoint (undefined: the source
 * cannot resume)
 */
export function checkCursor(item: SourceItem, label: string): void {
  if (item.cursor === undefined) return;
  const found = jsonProblem(item.cursor, "", new Set());
  if (!found) return;
  const what = found.at === "" ? `is ${found.what}` : `holds ${found.what} at cursor${found.at}`;
  throw broken(
    label,
    `yielded a record (${item.position.file}:${item.position.line}) whose cursor ${what}, not a JSON value`,
    "A record's cursor is a JSON value (a number, string, array or plain object) that read() gets back as ctx.checkpoint to resume after it; leave it undefined when the source cannot resume. Fix the plugin.",
  );
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

/**
 * A transform's checked handle: what its create() throws is named as `callPlugin` names it (a
 * missing prompt file is PLUGIN_FAILED naming the transform, not a bare Error).
 */
export async function createTransform(
  transform: { plugin: TransformPlugin; options: unknown; label: string },
  ctx: { resolvePath(path: string): string; logger: Logger; signal: AbortSignal },
  hint?: string,
): Promise<TransformHandle> {
  const handle = await callPlugin(
    transform.label,
    "create",
    () =>
      transform.plugin.create({
        options: transform.options,
        resolvePath: ctx.resolvePath,
        logger: ctx.logger,
        signal: ctx.signal,
      }),
    hint,
  );
  return checkTransformHandle(handle, transform.label);
}

/**
 * What a plugin's call returns. A BatchpipeError it throws stands as it is (it says what to do);
 * anything else (a TypeError, a missing file) is PLUGIN_FAILED naming the plugin and what it was doing.
 */
export async function callPlugin<T>(
  label: string,
  doing: string,
  call: () => Promise<T> | T,
  hint?: string,
): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw namePluginError(label, doing, error, hint);
  }
}

/** what a plugin threw, as callPlugin names it */
export function namePluginError(
  label: string,
  doing: string,
  error: unknown,
  hint = "Fix the plugin's problem and run again.",
): BatchpipeError {
  if (isBatchpipeError(error)) return error;
  return new BatchpipeError(
    ErrorCodes.PLUGIN_FAILED,
    `${label} failed in ${doing}: ${(error as Error)?.message ?? String(error)}`,
    { hint, plugin: label, cause: error },
  );
}

/**
 * The plugin API as hints name it: an app that depends on `batchpipe` imports it from
 * "batchpipe/plugin", a plugin package (or a plugin file run by a global CLI) from
 * "@batchpipe/core/plugin" (docs/writing-plugins.md).
 */
export const PLUGIN_API = '"batchpipe/plugin" or "@batchpipe/core/plugin"';

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

/**
 * what a sink's commit() returned, as is; PLUGIN_INVALID naming the sink when it does not survive
 * JSON as is: the engine stores it as JSON and hands it back to open() on resume, so undefined (or a
 * Map, a bigint...) would reopen the sink as fresh (or fail to store)
 */
export function checkCheckpoint(value: unknown, label: string): Checkpoint {
  const problem = checkpointProblem(value);
  if (problem)
    throw broken(
      label,
      `commit() returned ${problem}, not a JSON checkpoint: the engine stores it as JSON and hands it back to open() as \`checkpoint\` when the run resumes`,
      `Return a JSON value (a number, string, array or plain object) that says what is durable, e.g. the file's size (Checkpoint in ${PLUGIN_API}); fix the plugin.`,
    );
  return value as Checkpoint;
}

/**
 * why `value` is not a checkpoint that JSON gives back as is ("undefined", "a checkpoint with a
 * bigint (3n) at checkpoint.size"), or undefined when it is (the engine and the testSink suite check this)
 */
export function checkpointProblem(value: unknown): string | undefined {
  const found = jsonProblem(value, "", new Set());
  if (!found) return undefined;
  return found.at === "" ? found.what : `a checkpoint with ${found.what} at checkpoint${found.at}`;
}

/**
 * the transform's request for `record` as is; PLUGIN_INVALID naming the transform when it is not an
 * object at all (its fields are checked per record: a bad one fails that record)
 */
export function checkRequest(request: unknown, record: SourceRecord, label: string): void {
  if (typeof (request as PromiseLike<unknown> | null)?.then === "function") {
    // an async toRequest: its rejection would crash the process unhandled, its request is lost
    Promise.resolve(request).catch(() => {});
    throw broken(
      label,
      `toRequest() returned a Promise for the record at ${record.position.file}:${record.position.line}: it must return the request itself`,
      "toRequest(record) is synchronous: make it a plain function returning { custom_id, url, body }, and do the async work (a file, a lookup table) in create(), which may be async.",
    );
  }
  if (request !== null && typeof request === "object" && !Array.isArray(request)) return;
  throw broken(
    label,
    `toRequest() returned ${describeValue(request)} for the record at ${record.position.file}:${record.position.line}, not a request { custom_id, url, body }`,
    TRANSFORM_HINT,
  );
}

/** a value as a message shows it: "undefined", "a string (\"hi\")", "a bigint (1n)", "a Map", "a list" */
export function describeValue(value: unknown): string {
  if (value === undefined || value === null) return String(value);
  if (Array.isArray(value)) return "a list";
  switch (typeof value) {
    case "string":
      return `a string (${JSON.stringify(value.length > 40 ? `${value.slice(0, 39)}…` : value)})`;
    case "number":
    case "boolean":
      return `a ${typeof value} (${value})`;
    case "bigint":
      return `a bigint (${value}n)`;
    case "function":
      return "a function";
    case "symbol":
      return "a symbol";
  }
  const proto = Object.getPrototypeOf(value);
  if (proto !== null && proto !== Object.prototype) {
    const name = (proto as { constructor?: { name?: unknown } }).constructor?.name;
    if (typeof name === "string" && name !== "") return `${/^[AEIOU]/.test(name) ? "an" : "a"} ${name}`;
  }
  return describeExport(value);
}

// --- internal ---

const TRANSFORM_HINT = `toRequest(record) returns { custom_id, url, body } (RequestLine in ${PLUGIN_API}), or throws a BatchpipeError for a record it cannot turn into a request; fix the plugin.`;

const SOURCE_HINT = `A source yields { data: { ...fields }, position: { file, line }, cursor } per record (SourceRecord in ${PLUGIN_API}); fix the plugin.`;
const SINK_HINT = `open() returns { write(rows), commit(key), close() } (SinkHandle in ${PLUGIN_API}); fix the plugin.`;

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

/**
 * The provider's output(), checked: an async one (a Promise for its result) stops the run, where it
 * made every paid result a failed one (invalid_json_output, no message)
 */
export function checkedOutput(plugin: ProviderPlugin): ProviderPlugin["output"] {
  return (response, request) => {
    const result = plugin.output(response, request);
    if (typeof (result as unknown as PromiseLike<unknown> | null)?.then === "function") {
      Promise.resolve(result).catch(() => {});
      throw broken(
        `provider (${plugin.name})`,
        "output() returned a Promise: it must return its result itself",
        "output(response, request) is synchronous: make it a plain function returning { ok, output } or { ok: false, message }. The batch stays collectable: run again once the provider is fixed.",
      );
    }
    return result;
  };
}

/** the first part of `value` JSON does not give back as is: where (".a[2]") and what it is */
function jsonProblem(
  value: unknown,
  at: string,
  seen: Set<object>,
): { at: string; what: string } | undefined {
  if (value === null || typeof value === "string" || typeof value === "boolean") return undefined;
  if (typeof value === "number") return Number.isFinite(value) ? undefined : { at, what: String(value) };
  if (typeof value !== "object") return { at, what: describeValue(value) };
  if (seen.has(value)) return { at, what: "a circular reference" };
  const proto = Object.getPrototypeOf(value);
  if (!Array.isArray(value) && proto !== Object.prototype && proto !== null)
    return { at, what: describeValue(value) };
  seen.add(value);
  try {
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) {
        const found = jsonProblem(value[i], `${at}[${i}]`, seen);
        if (found) return found;
      }
      return undefined;
    }
    for (const [key, item] of Object.entries(value)) {
      const found = jsonProblem(
        item,
        /^[A-Za-z_$][\w$]*$/.test(key) ? `${at}.${key}` : `${at}[${JSON.stringify(key)}]`,
        seen,
      );
      if (found) return found;
    }
    return undefined;
  } finally {
    seen.delete(value);
  }
}
