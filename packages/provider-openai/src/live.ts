/**
 * Live (synchronous) calls for `batchpipe try`: one request to its endpoint (chat completions,
 * responses, embeddings, completions) through the official SDK. Unlike batch calls, the SDK's own
 * retries are on: a live call is one idempotent-enough request, and the SDK honours retry-after.
 */
import { keyRedactor, type LiveResult, liveFailure, type RequestLine } from "@batchpipe/core/plugin";
import OpenAI, { APIConnectionError, APIError } from "openai";
import { isObject, RETRYABLE_CODES, toUsage } from "./format.js";

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
    maxRetries: 4,
    timeout: options.timeoutMs ?? 60_000,
  });
  const redact = keyRedactor(options.apiKey, "sk-");
  return async (line: string, { signal }: { signal: AbortSignal }): Promise<LiveResult> => {
    // a line of a batch input file, as encodeRequest wrote it
    const request = JSON.parse(line) as RequestLine;
    const id = request.custom_id;
    // the SDK's base URL ends in /v1; request urls start with it
    const route = request.url.replace(/^\/v1(?=\/)/, "");
    try {
      const body = await client.post<unknown>(route, { body: request.body, signal });
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
    } catch (error) {
      if (signal.aborted) throw signal.reason ?? error;
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
