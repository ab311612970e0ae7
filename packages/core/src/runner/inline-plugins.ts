/**
 * The plugins a BatchRunner is made of: a source over `upload()`, a transform that builds the
 * request from an item and the workConfig, and sinks that hand committed rows to `download()` /
 * `downloadError()`.
 *
 * Delivery guarantee of a callback sink: the rows of one delivery (≤ 5,000 results of a batch) are
 * buffered, then handed to the callback inside `commit`; they count as delivered when the callback
 * returns and the engine records the commit. A crash between the two means the delivery is handed
 * over again on resume: at-least-once (exactly-once if the callback is idempotent, an upsert by id).
 */

import { fmt } from "../engine/read/read-errors.js";
import { BatchpipeError, ErrorCodes, isBatchpipeError } from "../errors.js";
import {
  type Checkpoint,
  defineSink,
  defineSource,
  defineTransform,
  type FailureRow,
  type ResultRow,
  type SinkPlugin,
  type SourceItem,
  type SourcePlugin,
  type SuccessRow,
  type TransformPlugin,
  z,
} from "../plugin.js";
import { REQUIRED_BODY_KEY } from "../transform/prompt.js";
import type { BatchErrorItem, BatchInputFields, BatchInputItem, BatchOutputItem } from "./items.js";
import type { ParsedWorkConfig } from "./work-config.js";

export type UploadFunction = () =>
  | AsyncIterable<BatchInputFields>
  | Iterable<BatchInputFields>
  | Promise<AsyncIterable<BatchInputFields> | Iterable<BatchInputFields>>;

/**
 * A source reading `upload()`; positions are `<label>:<n>` (the n-th item).
 *
 * upload() cannot start after an item, so a resumed read calls it again from its first item and
 * skips the items the checkpoint covers. The cursor `{ n, ids }` keeps a hash of the ids read, and
 * the skipped items must have the same ids in the same order: an upload() that yields them in another
 * order (a query without ORDER BY) is refused, where skipping by count lost the items that took the
 * skipped places. The hash is over the ids only, cheap per item.
 */
export function createUploadSource(upload: UploadFunction, label = "upload()"): SourcePlugin {
  return defineSource({
    name: "upload",
    options: z.strictObject({}),
    async *read({ signal, checkpoint }): AsyncIterable<SourceItem> {
      const from = uploadCursor(checkpoint);
      let n = 0;
      let ids = ID_HASH_SEED;
      for await (const item of namedErrors(await uploaded(upload, label), label)) {
        signal.throwIfAborted();
        n++;
        ids = idHash(ids, item);
        if (n <= from.n) {
          if (n === from.n && from.ids !== undefined && ids !== from.ids) throw otherItems(label, n);
          continue;
        }
        const position = { file: label, line: n };
        if (item === null || typeof item !== "object" || Array.isArray(item)) {
          yield {
            invalid: { code: "invalid_input", message: `upload() yielded ${describe(item)}, not an item` },
            position,
            cursor: { n, ids },
          };
          continue;
        }
        yield { data: item as Record<string, unknown>, position, cursor: { n, ids } };
      }
      if (n < from.n) throw otherItems(label, from.n, n);
    },
  });
}

/** Builds `{ custom_id, url, body }` from an item: `body`, else `messages` / `input` plus workConfig defaults. */
export function createItemTransform(
  config: Pick<ParsedWorkConfig, "endpoint" | "model" | "body">,
): TransformPlugin {
  return defineTransform({
    name: "work-item",
    options: z.strictObject({}),
    create() {
      // the key the endpoint's body needs: messages (chat), prompt (completions) or input
      const key = REQUIRED_BODY_KEY[config.endpoint];
      const use = (given: "messages" | "input") =>
        `${config.endpoint} takes ${key}, not ${given}: ${key === "prompt" ? "give body: { prompt }" : `yield { id, ${key} }`} (or a whole body)`;
      return {
        toRequest(record) {
          const item = record.data as BatchInputItem;
          const id = item.id;
          if ((typeof id !== "string" || id === "") && typeof id !== "number") {
            throw invalid(`the item at ${record.position.line} has no id (string or number)`);
          }
          const customId = String(id);
          let body: Record<string, unknown>;
          if (item.body !== undefined) {
            if (item.body === null || typeof item.body !== "object")
              throw invalid("body must be an object", customId);
            body = { ...item.body };
          } else if (item.messages !== undefined) {
            if (!Array.isArray(item.messages)) throw invalid("messages must be an array", customId);
            // the Responses API takes a list of messages as its input
            if (key === "messages") body = { ...config.body, messages: item.messages };
            else if (config.endpoint === "/v1/responses") body = { ...config.body, input: item.messages };
            else throw invalid(use("messages"), customId);
          } else if (item.input !== undefined) {
            if (key !== "input") throw invalid(use("input"), customId);
            body = { ...config.body, input: item.input };
          } else {
            throw invalid("the item has none of messages, input or body", customId);
          }
          if (body.model === undefined && config.model) body.model = config.model;
          if (typeof body.model !== "string") {
            throw invalid("no model: set workConfig.model or give body.model", customId);
          }
          return { custom_id: customId, url: config.endpoint, body };
        },
      };
    },
  });
}

export type DownloadFunction<T> = (items: AsyncIterable<T>) => Promise<void> | void;

/**
 * A sink that hands each committed delivery to `callback`. `role` "success" maps success rows to
 * BatchOutputItems; "failed" maps failure rows to BatchErrorItems (or to BatchOutputItems with
 * status "failed" when `asOutput` is set: failures then go to download()).
 */
export function createCallbackSink(
  callback: DownloadFunction<BatchOutputItem> | DownloadFunction<BatchErrorItem>,
  options: { name: string; asOutput?: boolean },
): SinkPlugin {
  return defineSink({
    name: options.name,
    options: z.strictObject({}),
    async open({ checkpoint }) {
      let buffer: ResultRow[] = [];
      let deliveries = typeof checkpoint === "number" ? checkpoint : 0;
      return {
        async write(rows) {
          for (const row of rows) buffer.push(row);
        },
        async commit() {
          const rows = buffer;
          buffer = [];
          if (rows.length > 0) {
            const items = rows.map((row) =>
              row.status === "success" || options.asOutput ? toOutputItem(row) : toErrorItem(row),
            );
            try {
              await (callback as DownloadFunction<unknown>)(iterate(items));
            } catch (error) {
              throw new BatchpipeError(
                ErrorCodes.PLUGIN_FAILED,
                `${options.name} threw: ${(error as Error)?.message ?? String(error)}`,
                {
                  hint: "Fix the callback and run again: the run resumes and hands these results over again.",
                  plugin: options.name,
                  cause: error,
                },
              );
            }
          }
          return ++deliveries;
        },
        async close() {
          buffer = [];
        },
      };
    },
  });
}

export function toOutputItem(row: ResultRow): BatchOutputItem {
  if (row.status === "success") return successItem(row);
  return {
    id: row.id,
    status: "failed",
    content: null,
    response: null,
    usage: null,
    error: row.error,
    model: null,
    batch_id: row.batch_id,
    attempts: row.attempts,
    input: row.input,
    source: row.source,
  };
}

// --- internal ---

function successItem(row: SuccessRow): BatchOutputItem {
  return {
    id: row.id,
    status: "success",
    content: row.output,
    response: row.response,
    usage: row.usage,
    error: null,
    model: row.model,
    batch_id: row.batch_id,
    attempts: row.attempts,
    input: row.input,
    source: row.source,
  };
}

function toErrorItem(row: FailureRow | SuccessRow): BatchErrorItem {
  const failure = row as FailureRow;
  return {
    id: failure.id,
    status: "failed",
    error: failure.error,
    batch_id: failure.batch_id,
    attempts: failure.attempts,
    input: failure.input,
    source: failure.source,
  };
}

async function* iterate<T>(items: T[]): AsyncIterable<T> {
  yield* items;
}

/** what upload() returned, awaited if a promise (an async function returning an array); refused if not iterable */
async function uploaded(
  upload: UploadFunction,
  label: string,
): Promise<AsyncIterable<BatchInputItem> | Iterable<BatchInputItem>> {
  let items: unknown;
  try {
    items = upload();
    if (typeof (items as PromiseLike<unknown> | null)?.then === "function") items = await items;
  } catch (error) {
    throw uploadThrew(label, error);
  }
  const iterable = items as Record<symbol, unknown> | null | undefined;
  if (
    typeof iterable?.[Symbol.asyncIterator] === "function" ||
    typeof iterable?.[Symbol.iterator] === "function"
  )
    return items as AsyncIterable<BatchInputItem> | Iterable<BatchInputItem>;
  const what = items === null || items === undefined ? String(items) : `a ${typeof items}`;
  throw new BatchpipeError(ErrorCodes.PLUGIN_FAILED, `${label} returned ${what}, not items`, {
    hint: "Write upload() as a generator (`static async *upload() { yield { id, messages } }`), or return an array of items.",
    plugin: label,
  });
}

/**
 * The items, an error upload() throws while it yields them named by `label` (the class's upload()):
 * the engine's label for this source, "source (upload)", does not say which runner's it is.
 */
async function* namedErrors<T>(items: AsyncIterable<T> | Iterable<T>, label: string): AsyncIterable<T> {
  try {
    yield* items;
  } catch (error) {
    throw uploadThrew(label, error);
  }
}

/** a BatchpipeError upload() threw stands as it is; anything else is PLUGIN_FAILED naming it */
function uploadThrew(label: string, error: unknown): unknown {
  if (isBatchpipeError(error)) return error;
  return new BatchpipeError(
    ErrorCodes.PLUGIN_FAILED,
    `${label} threw: ${(error as Error)?.message ?? String(error)}`,
    {
      hint: "Fix upload() and run again.",
      plugin: label,
      cause: error,
    },
  );
}

const ID_HASH_SEED = 0x811c9dc5;

/** the upload source's cursor; a bare number is an earlier build's (the item number, no ids) */
function uploadCursor(checkpoint: Checkpoint | undefined): { n: number; ids: number | undefined } {
  if (typeof checkpoint === "number") return { n: checkpoint, ids: undefined };
  const cursor = checkpoint as { n?: unknown; ids?: unknown } | null | undefined;
  if (cursor && typeof cursor.n === "number")
    return { n: cursor.n, ids: typeof cursor.ids === "number" ? cursor.ids : undefined };
  return { n: 0, ids: undefined };
}

/** FNV-1a over the item's id (and a separator) */
function idHash(hash: number, item: unknown): number {
  const id = item !== null && typeof item === "object" ? (item as { id?: unknown }).id : undefined;
  const text = `${typeof id === "string" || typeof id === "number" ? id : ""}\n`;
  let h = hash;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** a resumed upload() that yields other items than the ones its checkpoint covers */
function otherItems(label: string, read: number, yielded?: number): BatchpipeError {
  const what =
    yielded === undefined
      ? `its first ${fmt(read)} items are not the ones read before the interruption (their ids differ or come in another order)`
      : `it yielded ${fmt(yielded)} items, fewer than the ${fmt(read)} read before the interruption`;
  return new BatchpipeError(
    ErrorCodes.SOURCE_FAILED,
    `${label} was called again to resume the read, but ${what}: they cannot be skipped without losing or repeating items`,
    {
      hint: "Make upload() yield the same items in the same order as before (sort the query, e.g. ORDER BY id), then run again.",
      plugin: label,
    },
  );
}

function invalid(message: string, recordId?: string): BatchpipeError {
  return new BatchpipeError("invalid_input", message, { recordId });
}

function describe(value: unknown): string {
  return value === null ? "null" : Array.isArray(value) ? "an array" : `a ${typeof value}`;
}
