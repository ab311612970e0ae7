/**
 * OpenAI's Files + Batches over the official `openai` SDK. The SDK's own retries are off
 * (maxRetries: 0): a retried upload stream cannot be replayed and a retried create can duplicate a
 * batch, so every call goes through withRetries, and uploads/creates look for their own earlier
 * success first.
 */
import fs from "node:fs";
import { Readable } from "node:stream";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import { idleBody, keyRedactor, type Logger } from "@batchpipe/core/plugin";
import OpenAI, { NotFoundError, toStreamingFile } from "openai";
import { checkContent, checkedBatch, checkedFile, checkPage, parsed } from "./answers.js";
import {
  errorText,
  isAmbiguous,
  type RetryContext,
  type RetryInfo,
  retryContext,
  retryPolicy,
  statusOf,
  withRetries,
} from "./retry.js";
import type { BatchInfo, CreateBatchRequest, FileInfo, OpenAIClient } from "./types.js";

export interface OpenAIClientOptions {
  /** e.g. "https://api.openai.com/v1" or "http://127.0.0.1:PORT/v1" */
  baseURL: string;
  apiKey: string;
  /** per-request timeout for API calls (default 60 s) */
  timeoutMs?: number;
  /** per-request timeout for file uploads (default 10 min; a 200 MB upload takes a while) */
  uploadTimeoutMs?: number;
  /** attempts per call, including the first (default 8, about 1.5 minutes of backoff in total) */
  maxAttempts?: number;
  /** first backoff delay (default 1000 ms) and cap (default 30000 ms); retry-after headers win */
  minDelayMs?: number;
  maxDelayMs?: number;
  logger?: Logger;
  /** called before each retry (for progress output and tests) */
  onRetry?: (info: RetryInfo) => void;
}

/**
 * How far back (seconds) to look for an upload or batch that an ambiguous failure may have
 * created: the server's clock and ours can differ, so be generous.
 */
export const RECONCILE_MARGIN_S = 15 * 60;

export function createOpenAIClient(options: OpenAIClientOptions): OpenAIClient {
  const client = new OpenAI({
    baseURL: options.baseURL,
    apiKey: options.apiKey,
    maxRetries: 0,
    timeout: options.timeoutMs ?? 60_000,
  });
  const policy = retryPolicy(options);
  const ctx: RetryContext = retryContext({
    policy,
    logger: options.logger,
    onRetry: options.onRetry,
    redact: keyRedactor(options.apiKey, "sk-"),
    baseURL: options.baseURL,
  });
  const uploadTimeout = options.uploadTimeoutMs ?? 10 * 60_000;

  async function findUploadedFile(filename: string, bytes: number, since: number, signal: AbortSignal) {
    for await (const file of newestFirst(listFiles({ purpose: "batch", signal }), since)) {
      if (file.filename === filename && file.bytes === bytes) return file;
    }
    return null;
  }

  async function findCreatedBatch(metadata: Record<string, string>, since: number, signal: AbortSignal) {
    const keys = Object.keys(metadata).filter((k) => k.startsWith("batchpipe_"));
    if (keys.length === 0) return null;
    for await (const batch of newestFirst(listBatches({ signal }), since)) {
      if (keys.every((k) => batch.metadata?.[k] === metadata[k])) return batch;
    }
    return null;
  }

  function listBatches(opts: { signal?: AbortSignal } = {}): AsyncGenerator<BatchInfo> {
    return paginate(ctx, "GET /batches", checkedBatch, opts.signal, (after, signal) =>
      client.batches.list({ limit: 100, ...(after ? { after } : {}) }, { signal }),
    );
  }

  function listFiles(opts: { purpose?: string; signal?: AbortSignal } = {}): AsyncGenerator<FileInfo> {
    const filter = opts.purpose ? { purpose: opts.purpose } : {};
    return paginate(ctx, "GET /files", checkedFile, opts.signal, (after, signal) =>
      client.files.list({ limit: 1000, order: "desc", ...filter, ...(after ? { after } : {}) }, { signal }),
    );
  }

  async function retrieveBatch(id: string, opts: { signal?: AbortSignal } = {}): Promise<BatchInfo | null> {
    return withRetries(
      ctx,
      `GET /batches/${id}`,
      async (signal) => {
        try {
          return checkedBatch(await parsed(client.batches.retrieve(id, { signal })));
        } catch (error) {
          // gone: deleted (404) or archived (410)
          if (error instanceof NotFoundError || statusOf(error) === 410) return null;
          throw error;
        }
      },
      opts.signal,
    );
  }

  return {
    async uploadFile(path, { filename, signal, lookFirst }) {
      const { size } = await fs.promises.stat(path);
      const since = Math.min(lookFirst?.since ?? Number.POSITIVE_INFINITY, nowSeconds() - RECONCILE_MARGIN_S);
      let mayExist = lookFirst !== undefined;
      return withRetries(
        ctx,
        "POST /files",
        async (callSignal) => {
          if (mayExist) {
            const existing = await findUploadedFile(filename, size, since, callSignal);
            if (existing) return existing;
          }
          // a fresh stream per attempt: a half-sent stream cannot be replayed
          const stream = fs.createReadStream(path);
          try {
            const file = await parsed(
              client.files.create(
                { file: toStreamingFile(stream, filename, { type: "application/jsonl" }), purpose: "batch" },
                { signal: callSignal, timeout: uploadTimeout },
              ),
            );
            return checkedFile(file);
          } catch (error) {
            if (isAmbiguous(error)) mayExist = true;
            throw error;
          } finally {
            stream.destroy();
          }
        },
        signal,
      );
    },

    async createBatch(request: CreateBatchRequest, opts: { signal?: AbortSignal } = {}) {
      const since = nowSeconds() - RECONCILE_MARGIN_S;
      let mayExist = false;
      return withRetries(
        ctx,
        "POST /batches",
        async (signal): Promise<{ batch: BatchInfo } | { queueFull: true; message: string }> => {
          if (mayExist) {
            const existing = await findCreatedBatch(request.metadata, since, signal);
            if (existing) return { batch: existing };
          }
          try {
            const batch = await parsed(
              client.batches.create(
                {
                  input_file_id: request.input_file_id,
                  endpoint: request.endpoint as OpenAI.Batches.BatchCreateParams["endpoint"],
                  completion_window: request.completion_window as "24h",
                  metadata: request.metadata,
                },
                { signal },
              ),
            );
            return { batch: checkedBatch(batch) };
          } catch (error) {
            // Azure's fail-fast queue refusal: wait for the queue, not an error
            if (statusOf(error) === 400 && errorText(error).includes("token_limit_exceeded")) {
              return { queueFull: true, message: ctx.redact(errorMessage(error)) };
            }
            if (isAmbiguous(error)) mayExist = true;
            throw error;
          }
        },
        opts.signal,
      );
    },

    retrieveBatch,

    async cancelBatch(id, opts = {}) {
      await withRetries(
        ctx,
        `POST /batches/${id}/cancel`,
        async (signal) => {
          try {
            checkedBatch(await parsed(client.batches.cancel(id, { signal })));
          } catch (error) {
            const status = statusOf(error);
            // gone (404) or already ended (409): nothing left to stop
            if (status === 404 || status === 409) return;
            throw error;
          }
        },
        opts.signal,
      );
    },

    listBatches,
    listFiles,

    async downloadFile(id, opts = {}) {
      // only the request is retried: a half-consumed body cannot be
      const response = await withRetries(
        ctx,
        `GET /files/${id}/content`,
        async (signal) => {
          const answer = await client.files.content(id, { signal });
          checkContent(answer);
          return answer;
        },
        opts.signal,
      );
      if (!response.body) return Readable.from([]);
      // the call's timeout covers the headers; a body that stalls is failed after as long a silence
      return idleBody(
        Readable.fromWeb(response.body as WebReadableStream<Uint8Array>),
        options.timeoutMs ?? 60_000,
        `GET /files/${id}/content`,
      );
    },

    async deleteFile(id, opts = {}) {
      await withRetries(
        ctx,
        `DELETE /files/${id}`,
        async (signal) => {
          try {
            await client.files.delete(id, { signal });
          } catch (error) {
            if (error instanceof NotFoundError) return;
            throw error;
          }
        },
        opts.signal,
      );
    },

    async close() {},
  };
}

/** Walks a cursor-paged list (`after` = the last id of the previous page), each page with retries. */
async function* paginate<Raw extends { id: string }, T>(
  ctx: RetryContext,
  route: string,
  normalise: (raw: Raw) => T,
  signal: AbortSignal | undefined,
  fetchPage: (after: string | undefined, signal: AbortSignal) => Promise<{ data: Raw[]; has_more: boolean }>,
): AsyncGenerator<T> {
  let after: string | undefined;
  for (;;) {
    const page = await withRetries(
      ctx,
      route,
      async (callSignal) => {
        const answer = await parsed(fetchPage(after, callSignal));
        // the SDK reads a page that is not a list as an empty one: look at the body it parsed
        checkPage((answer as unknown as { body: unknown }).body);
        return answer;
      },
      signal,
    );
    for (const item of page.data) {
      // an item of the wrong shape is none of ours: skipped, never read as an id ""
      let value: T;
      try {
        value = normalise(item);
      } catch {
        continue;
      }
      yield value;
    }
    const last = page.data.at(-1);
    if (!page.has_more || !last) return;
    after = last.id;
  }
}

/**
 * Items of a newest-first listing down to `since` (unix seconds). Stops early only while the
 * listing really is newest first: some compatible servers ignore `order`, and a wrong early stop
 * would miss the object we are looking for.
 */
export async function* newestFirst<T extends { created_at: number }>(items: AsyncIterable<T>, since: number) {
  let previous = Number.POSITIVE_INFINITY;
  let descending = true;
  for await (const item of items) {
    if (item.created_at > previous) descending = false;
    previous = item.created_at;
    if (item.created_at < since) {
      if (descending) return;
      continue;
    }
    yield item;
  }
}

/** Replaces the API key (and anything shaped like an OpenAI key) in text we produce. */

function errorMessage(error: unknown): string {
  const body = (error as { error?: { message?: unknown } }).error;
  if (body && typeof body.message === "string") return body.message;
  return error instanceof Error ? error.message : String(error);
}

export function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}
