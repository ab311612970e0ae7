/**
 * Anthropic's Message Batches over the official `@anthropic-ai/sdk`. The SDK's own retries are off
 * (maxRetries: 0): a retried create could make a second batch, so every call goes through
 * withRetries and the connection decides what to look for before a create is repeated.
 */
import fs from "node:fs";
import readline from "node:readline";
import { Readable } from "node:stream";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import Anthropic, { NotFoundError } from "@anthropic-ai/sdk";
import { BatchpipeError, ErrorCodes, idleBody, keyRedactor, type Logger } from "@batchpipe/core/plugin";
import { customId } from "./ids.js";
import {
  type RetryContext,
  type RetryInfo,
  retryContext,
  retryPolicy,
  statusOf,
  withRetries,
} from "./retry.js";

export interface AnthropicClientOptions {
  /** e.g. "https://api.anthropic.com" or "http://127.0.0.1:PORT" (the SDK adds /v1/…) */
  baseURL: string;
  apiKey: string;
  /** sent as anthropic-beta on every batch call */
  betas: readonly string[];
  timeoutMs?: number;
  maxAttempts?: number;
  minDelayMs?: number;
  maxDelayMs?: number;
  logger?: Logger;
  onRetry?: (info: RetryInfo) => void;
}

/** A Message Batch as the API answers it. */
export interface MessageBatch {
  id: string;
  processing_status: string;
  request_counts: {
    processing: number;
    succeeded: number;
    errored: number;
    canceled: number;
    expired: number;
  };
  created_at: string;
  expires_at: string | null;
  ended_at: string | null;
  results_url: string | null;
}

export type AnthropicClient = ReturnType<typeof createAnthropicClient>;

export function createAnthropicClient(options: AnthropicClientOptions) {
  const client = new Anthropic({
    baseURL: options.baseURL,
    apiKey: options.apiKey,
    maxRetries: 0,
    timeout: options.timeoutMs ?? 600_000,
    defaultHeaders: options.betas.length > 0 ? { "anthropic-beta": options.betas.join(",") } : undefined,
  });
  const ctx: RetryContext = retryContext({
    policy: retryPolicy(options),
    logger: options.logger,
    onRetry: options.onRetry,
    redact: keyRedactor(options.apiKey, "sk-ant-"),
    baseURL: options.baseURL,
  });

  return {
    ctx,

    /**
     * One create attempt (no retries: the caller decides what to look for first). The body is
     * streamed from the shard file with each custom_id replaced by `<tagId>-<line>`.
     */
    async createOnce(file: string, tagId: string, signal: AbortSignal): Promise<MessageBatch> {
      return (await client.post("/v1/messages/batches", {
        body: createBody(file, tagId),
        headers: { "content-type": "application/json" },
        signal,
      })) as MessageBatch;
    },

    /** null when the batch no longer exists (404) */
    async retrieve(id: string, signal?: AbortSignal): Promise<MessageBatch | null> {
      return withRetries(
        ctx,
        `GET /v1/messages/batches/${id}`,
        async (callSignal) => {
          try {
            return (await client.messages.batches.retrieve(id, {}, { signal: callSignal })) as MessageBatch;
          } catch (error) {
            if (error instanceof NotFoundError) return null;
            throw error;
          }
        },
        signal,
      );
    },

    /** every batch of the workspace, newest first, each page with retries */
    async *list(signal?: AbortSignal): AsyncGenerator<MessageBatch> {
      let after: string | undefined;
      for (;;) {
        const page = await withRetries(
          ctx,
          "GET /v1/messages/batches",
          (callSignal) =>
            client.messages.batches.list(
              { limit: 100, ...(after ? { after_id: after } : {}) },
              { signal: callSignal },
            ),
          signal,
        );
        for (const batch of page.data) yield batch as MessageBatch;
        const last = page.data.at(-1);
        if (!page.has_more || !last) return;
        after = last.id;
      }
    },

    /** a batch that is gone (404) or already ended (409) is not an error */
    async cancel(id: string, signal?: AbortSignal): Promise<void> {
      await withRetries(
        ctx,
        `POST /v1/messages/batches/${id}/cancel`,
        async (callSignal) => {
          try {
            await client.messages.batches.cancel(id, {}, { signal: callSignal });
          } catch (error) {
            const status = statusOf(error);
            if (status === 404 || status === 409) return;
            throw error;
          }
        },
        signal,
      );
    },

    /** deleting a batch that no longer exists is not an error */
    async delete(id: string, signal?: AbortSignal): Promise<void> {
      await withRetries(
        ctx,
        `DELETE /v1/messages/batches/${id}`,
        async (callSignal) => {
          try {
            await client.messages.batches.delete(id, {}, { signal: callSignal });
          } catch (error) {
            if (error instanceof NotFoundError) return;
            throw error;
          }
        },
        signal,
      );
    },

    /** the results' lines, as text, streamed (only the request is retried: a half-read body cannot be) */
    async *resultLines(batch: MessageBatch, signal: AbortSignal): AsyncGenerator<string> {
      const url = batch.results_url;
      if (!url) {
        throw new BatchpipeError(ErrorCodes.PROVIDER_FAILED, `batch ${batch.id} has no results_url yet`, {
          hint: "Run again: the results are read once the batch has ended.",
        });
      }
      const route = `GET /v1/messages/batches/${batch.id}/results`;
      const response = await withRetries(
        ctx,
        route,
        (callSignal) =>
          client
            .get(url, {
              headers: { Accept: "application/binary" },
              __binaryResponse: true,
              signal: callSignal,
            })
            .asResponse(),
        signal,
      );
      if (!response.body) return;
      // the call's timeout covers the headers; a body that stalls is failed after as long a silence
      const stream = idleBody(
        Readable.fromWeb(response.body as WebReadableStream<Uint8Array>),
        options.timeoutMs ?? 600_000,
        route,
      );
      const stop = () => stream.destroy(signal.reason);
      signal.addEventListener("abort", stop, { once: true });
      const lines = readline.createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY });
      try {
        for await (const text of lines) if (text.trim() !== "") yield text;
      } catch (error) {
        if (signal.aborted) throw signal.reason ?? error;
        throw new BatchpipeError(
          ErrorCodes.PROVIDER_FAILED,
          `${route} broke off: ${error instanceof Error ? error.message : String(error)}`,
          { hint: "Run again to read the results again." },
        );
      } finally {
        signal.removeEventListener("abort", stop);
        lines.close();
        stream.destroy();
      }
    },
  };
}

/** `{"requests":[…]}` from the shard file, one request per line, ids replaced (streamed, never whole) */
async function* createBody(file: string, tagId: string): AsyncGenerator<Uint8Array> {
  const encoder = new TextEncoder();
  yield encoder.encode('{"requests":[');
  const lines = readline.createInterface({
    input: fs.createReadStream(file),
    crlfDelay: Number.POSITIVE_INFINITY,
  });
  let n = 0;
  try {
    for await (const line of lines) {
      if (line === "") continue;
      yield encoder.encode(`${n > 0 ? "," : ""}${replaceId(line, customId(tagId, n))}`);
      n++;
    }
  } finally {
    lines.close();
  }
  yield encoder.encode("]}");
}

const PREFIX = '{"custom_id":"';

/** the line with its custom_id (the first member, a JSON string: see encodeRequest) replaced */
export function replaceId(line: string, id: string): string {
  if (!line.startsWith(PREFIX)) throw notOurs();
  let i = PREFIX.length;
  while (i < line.length && line[i] !== '"') i += line[i] === "\\" ? 2 : 1;
  if (i >= line.length) throw notOurs();
  return `${PREFIX}${id}${line.slice(i)}`;
}

function notOurs(): BatchpipeError {
  return new BatchpipeError(
    ErrorCodes.STATE_FAILED,
    "a shard line is not in the anthropic provider's format",
    {
      hint: "The run's shards were written for another provider: finish it with that provider, or start over.",
    },
  );
}

/** Replaces the API key (and anything shaped like an Anthropic key) in text we produce. */
