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
import { BatchpipeError, ErrorCodes } from "../errors.js";
import {
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
import type { BatchErrorItem, BatchInputItem, BatchOutputItem } from "./items.js";
import type { ParsedWorkConfig } from "./work-config.js";

export type UploadFunction = () => AsyncIterable<BatchInputItem> | Iterable<BatchInputItem>;

/** A source reading `upload()`; positions are `<label>:<n>` (the n-th item). */
export function createUploadSource(upload: UploadFunction, label = "upload()"): SourcePlugin {
  return defineSource({
    name: "upload",
    options: z.strictObject({}),
    async *read({ signal }): AsyncIterable<SourceItem> {
      let n = 0;
      for await (const item of upload()) {
        signal.throwIfAborted();
        n++;
        const position = { file: label, line: n };
        if (item === null || typeof item !== "object" || Array.isArray(item)) {
          yield {
            invalid: { code: "invalid_input", message: `upload() yielded ${describe(item)}, not an item` },
            position,
            cursor: n,
          };
          continue;
        }
        yield { data: item as Record<string, unknown>, position, cursor: n };
      }
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
            body = { ...config.body, messages: item.messages };
          } else if (item.input !== undefined) {
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

function invalid(message: string, recordId?: string): BatchpipeError {
  return new BatchpipeError("invalid_input", message, { recordId });
}

function describe(value: unknown): string {
  return value === null ? "null" : Array.isArray(value) ? "an array" : `a ${typeof value}`;
}
