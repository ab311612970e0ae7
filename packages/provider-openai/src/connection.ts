/**
 * The provider contract over OpenAI's Batch API: a shard is an uploaded input file plus a batch
 * tagged with batchpipe_* metadata, which is how find() recognises it after a crash.
 */
import {
  type BatchSnapshot,
  type JsonValue,
  keyRedactor,
  type ProviderConnection,
  type ResultItem,
  redactedResult,
  type SubmissionTag,
  tagKey,
} from "@batchpipe/core/plugin";
import { createOpenAIClient, newestFirst, type OpenAIClientOptions } from "./client.js";
import { classifyLine, isObject, toUsage } from "./format.js";
import { boundedLines } from "./lines.js";
import { createLiveCaller } from "./live.js";
import { ProviderError } from "./retry.js";
import { batchData, toSnapshot } from "./snapshot.js";
import type { OpenAIClient } from "./types.js";

export type OpenAIConnectionOptions = OpenAIClientOptions & {
  /** longest result line read; a longer one is skipped as unreadable (default 128 MiB) */
  maxLineBytes?: number;
};

/** a result line is one response: 128 MiB holds the largest (thousands of embeddings in one request) */
export const DEFAULT_MAX_LINE_BYTES = 128 * 1024 * 1024;

export function createOpenAIConnection(options: OpenAIConnectionOptions): ProviderConnection {
  const client = createOpenAIClient(options);
  const maxLineBytes = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
  // a result line's error message can echo what the provider was sent, the key included
  const redact = keyRedactor(options.apiKey, "sk-");
  return {
    live: createLiveCaller(options),

    async submit(shard, { staged, stage, maybeStarted, since, signal }) {
      let fileId = stagedFileId(staged);
      if (!fileId) {
        const file = await client.uploadFile(shard.file, {
          filename: uploadName(shard.tag),
          signal,
          // an earlier try may have uploaded it: look for that file (by name and size) first
          ...(maybeStarted ? { lookFirst: { since: Math.floor(since / 1000) } } : {}),
        });
        fileId = file.id;
        // before the create: a crash or a queue refusal from here on reuses the upload
        stage({ fileId });
      }
      const created = await client.createBatch(
        {
          input_file_id: fileId,
          endpoint: shard.endpoint,
          completion_window: shard.completionWindow,
          metadata: metadataOf(shard.tag),
        },
        { signal },
      );
      if ("queueFull" in created) return { queueFull: created.message };
      return { batch: toSnapshot(created.batch) };
    },

    async find(tags, { since, signal }) {
      const wanted = new Map(tags.map((tag) => [matchKey(tag.run, tag.shard, String(tag.submission)), tag]));
      const found = new Map<string, BatchSnapshot>();
      if (wanted.size === 0) return found;
      for await (const batch of newestFirst(client.listBatches({ signal }), Math.floor(since / 1000))) {
        const m = batch.metadata;
        if (!m) continue;
        const key = matchKey(m.batchpipe_run, m.batchpipe_shard, m.batchpipe_attempt);
        const tag = wanted.get(key);
        if (!tag) continue;
        found.set(tagKey(tag), toSnapshot(batch));
        wanted.delete(key);
        if (wanted.size === 0) break;
      }
      return found;
    },

    async findByPipeline(pipeline, { state, limit, signal }) {
      const found: BatchSnapshot[] = [];
      for await (const batch of client.listBatches({ signal })) {
        const m = batch.metadata;
        if (m?.batchpipe_name !== pipeline) continue;
        if (state && m.batchpipe_state && m.batchpipe_state !== state) continue;
        found.push(toSnapshot(batch));
        if (found.length >= limit) break;
      }
      return found;
    },

    async poll(batch, { signal }) {
      const info = await client.retrieveBatch(batch.id, { signal });
      return info && toSnapshot(info);
    },

    results(batch, { signal }) {
      return streamResults(client, batch, { maxLineBytes, redact }, signal);
    },

    cancel: (batch, options) => client.cancelBatch(batch.id, { signal: options?.signal }),

    async cleanUp({ staged, batch }, options) {
      const signal = options?.signal;
      const ids = new Set<string>();
      const fileId = stagedFileId(staged);
      if (fileId) ids.add(fileId);
      if (batch) {
        let data = batchData(batch.data);
        if (!data.output_file_id && !data.error_file_id) {
          // a ref stored before the batch ended does not know its result files yet
          const fresh = await client.retrieveBatch(batch.id, { signal });
          if (fresh) data = batchData(toSnapshot(fresh).data);
        }
        for (const id of [data.input_file_id, data.output_file_id, data.error_file_id]) if (id) ids.add(id);
      }
      for (const id of ids) await client.deleteFile(id, { signal });
    },

    close: () => client.close(),
  };
}

/** the name an upload is found again by */
export function uploadName(tag: SubmissionTag): string {
  return `batchpipe-${tag.pipeline}-${tag.run}-${tag.shard}.jsonl`;
}

export function metadataOf(tag: SubmissionTag): Record<string, string> {
  return {
    batchpipe_name: tag.pipeline,
    batchpipe_run: tag.run,
    batchpipe_shard: tag.shard,
    batchpipe_attempt: String(tag.submission),
    ...(tag.state ? { batchpipe_state: tag.state } : {}),
  };
}

function matchKey(run: unknown, shard: unknown, attempt: unknown): string {
  return JSON.stringify([run, shard, attempt]);
}

function stagedFileId(staged: JsonValue): string | null {
  if (!isObject(staged)) return null;
  return typeof staged.fileId === "string" && staged.fileId !== "" ? staged.fileId : null;
}

/**
 * The output file, then the error file, line by line. A batch whose counts say requests completed
 * but whose output file is absent (a known quirk: its id may show up after `completed`), or holds
 * no result line (an empty body, a proxy's page), is asked for again; still so, the results are
 * "gone" (a 404 to the engine: tried again on its backoff, the requests retried after 3 in a row).
 * Nothing of the output file is yielded as a result before its first readable line, so this never
 * breaks off a delivery half-routed.
 */
async function* streamResults(
  client: OpenAIClient,
  batch: BatchSnapshot,
  { maxLineBytes, redact }: { maxLineBytes: number; redact: (text: string) => string },
  signal: AbortSignal,
): AsyncGenerator<ResultItem> {
  let data = batchData(batch.data);
  const completed = batch.counts?.completed ?? 0;
  if (completed > 0 && !data.output_file_id) {
    const fresh = await client.retrieveBatch(batch.id, { signal });
    if (fresh) data = batchData(toSnapshot(fresh).data);
    if (!data.output_file_id) throw resultsAbsent(batch.id, completed, "has no output file");
  }
  for (const [which, fileId] of [
    ["output", data.output_file_id],
    ["error", data.error_file_id],
  ] as const) {
    if (!fileId) continue;
    const stream = await client.downloadFile(fileId, { signal });
    // the download's own signal no longer follows `signal` once the call has answered
    const stop = () => stream.destroy(signal.reason);
    signal.addEventListener("abort", stop, { once: true });
    let n = 0;
    let readable = 0;
    try {
      for await (const line of boundedLines(stream, maxLineBytes)) {
        n++;
        const where = `line ${n} of the ${which} file ${fileId}`;
        if ("tooLong" in line) {
          yield {
            kind: "unreadable",
            reason: `${where} is longer than ${maxLineBytes} bytes (max_line_bytes); skipped`,
          };
        } else if (line.text.trim() !== "") {
          const item = toResultItem(line.text, where);
          if (item.kind !== "unreadable") readable++;
          yield redactedResult(item, redact);
        }
      }
    } catch (error) {
      if (signal.aborted) throw signal.reason ?? error;
      const route = `GET /files/${fileId}/content`;
      throw new ProviderError({
        route,
        attempts: 1,
        message: `${route} failed while reading line ${n + 1}: ${error instanceof Error ? error.message : String(error)}`,
        hint: "The download broke off; run again to read the results again.",
      });
    } finally {
      signal.removeEventListener("abort", stop);
      stream.destroy();
    }
    if (which === "output" && readable === 0 && completed > 0)
      throw resultsAbsent(batch.id, completed, `has an output file (${fileId}) without a result line`);
  }
}

/** results the batch's counts say exist but that cannot be read: a 404 to the engine (see streamResults) */
function resultsAbsent(batchId: string, completed: number, what: string): ProviderError {
  const route = `GET /batches/${batchId}`;
  return new ProviderError({
    route,
    status: 404,
    resultsAbsent: true,
    attempts: 1,
    message: `batch ${batchId} reports ${completed} requests completed (done, and billed, by the provider) but ${what}`,
    hint: "Tried again on a backoff (a late output file is a known quirk); after 3 tries in a row its requests are missing (and retried). Check the batch at the provider.",
  });
}

/** one line of an output or error file */
export function toResultItem(text: string, where: string): ResultItem {
  let line: unknown;
  try {
    line = JSON.parse(text);
  } catch (error) {
    return { kind: "unreadable", reason: `${where} is not JSON: ${(error as Error).message}` };
  }
  if (!isObject(line) || typeof line.custom_id !== "string")
    return { kind: "unreadable", reason: `${where} has no custom_id` };
  const id = line.custom_id;
  const outcome = classifyLine(line);
  if (!outcome)
    return { kind: "unreadable", reason: `${where} (${id}) has neither a response status nor an error` };
  if (outcome.kind === "success") {
    const body = outcome.body;
    return {
      kind: "success",
      id,
      response: body,
      usage: toUsage(body.usage),
      model: typeof body.model === "string" ? body.model : null,
    };
  }
  return {
    kind: "failure",
    id,
    error: { code: outcome.code, message: outcome.message, status_code: outcome.statusCode },
    retryable: outcome.retryable,
  };
}
