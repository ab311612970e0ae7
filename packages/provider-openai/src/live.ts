/**
 * Live (synchronous) calls for `batchpipe try`: one request to its endpoint (chat completions,
 * responses, embeddings, completions) through the official SDK. They are retried by core's retry
 * loop as batch calls are (retry-after honoured), with the SDK's policy for one request (4 retries,
 * 0.5 s doubling to 8 s): in a run, none then starts past batch.max_outage.
 */
import { keyRedactor, type LiveResult, liveFailure, type RequestLine } from "@batchpipe/core/plugin";
import OpenAI, { APIConnectionError, APIError } from "openai";
import { isObject, RETRYABLE_CODES, toUsage } from "./format.js";
import { retryContext, retryPolicy, withRetries } from "./retry.js";

/** the SDK's retries of one request, run by core's retry loop */
const LIVE_RETRIES = retryPolicy({ maxAttempts: 5, minDelayMs: 500, maxDelayMs: 8000 });

export interface LiveCallerOptions {
  baseURL: string;
  apiKey: string;
  /** per-call timeout (default 60 s) */
  timeoutMs?: number;
}

export function createLiveCaller(options: LiveCallerOptions) {
  const client = new OpenAI({
    baseURL: options.baseURL,
    apiKey: options.apiKey,
    maxRetries: 0,
    timeout: options.timeoutMs ?? 60_000,
  });
  const redact = keyRedactor(options.apiKey, "sk-");
  const ctx = retryContext({ policy: LIVE_RETRIES, redact, baseURL: options.baseURL });
  return async (line: string, { signal }: { signal: AbortSignal }): Promise<LiveResult> => {
    // a line of a batch input file, as encodeRequest wrote it
    const request = JSON.parse(line) as RequestLine;
    const id = request.custom_id;
    // the SDK's base URL ends in /v1; request urls start with it
    const route = request.url.replace(/^\/v1(?=\/)/, "");
    /** the SDK's error of the last attempt: what the failure says (withRetries' own is for logs) */
    let last: unknown;
    try {
      const body = await withRetries(
        ctx,
        `POST ${request.url}`,
        (callSignal) =>
          client.post<unknown>(route, { body: request.body, signal: callSignal }).catch((error: unknown) => {
            last = error;
            throw error;
          }),
        signal,
      );
      if (!isObject(body))
        return liveFailure(
          id,
          "invalid_response",
          `POST ${request.url} answered something that is not a JSON object`,
          null,
          true,
        );
      return {
        kind: "success",
        id,
        response: body,
        usage: toUsage(body.usage),
        model: typeof body.model === "string" ? body.model : null,
      };
    } catch (thrown) {
      if (signal.aborted) throw signal.reason ?? thrown;
      const error = last ?? thrown;
      if (error instanceof APIError && error.status !== undefined) {
        const code = typeof error.code === "string" ? error.code : (error.type ?? `http_${error.status}`);
        const retryable = error.status === 429 || error.status >= 500 || RETRYABLE_CODES.has(code);
        return liveFailure(id, code, redact(error.message), error.status, retryable);
      }
      const message = error instanceof APIConnectionError ? `cannot reach ${options.baseURL}` : String(error);
      return liveFailure(id, "connection_error", redact(message), null, true);
    }
  };
}
