/**
 * Live (synchronous) calls: one Messages request through the official SDK, for `batchpipe try` and
 * the requests still without a result when a run passes `batch.deadline`. They are retried by
 * core's retry loop as batch calls are (retry-after honoured), with the SDK's policy for one request
 * (4 retries, 0.5 s doubling to 8 s): in a run, none then starts past batch.max_outage.
 */
import Anthropic from "@anthropic-ai/sdk";
import { keyRedactor, type LiveResult, liveFailure } from "@batchpipe/core/plugin";
import { FINAL_ERRORS, isObject, toUsage } from "./format.js";
import { retryContext, retryPolicy, withRetries } from "./retry.js";

/** the SDK's retries of one request, run by core's retry loop */
const LIVE_RETRIES = retryPolicy({ maxAttempts: 5, minDelayMs: 500, maxDelayMs: 8000 });

export interface LiveCallerOptions {
  baseURL: string;
  apiKey: string;
  betas: readonly string[];
  /** per call (default 10 min, as the SDK's) */
  timeoutMs?: number;
}

export function createLiveCaller(options: LiveCallerOptions) {
  const client = new Anthropic({
    baseURL: options.baseURL,
    apiKey: options.apiKey,
    maxRetries: 0,
    timeout: options.timeoutMs ?? 600_000,
    defaultHeaders: options.betas.length > 0 ? { "anthropic-beta": options.betas.join(",") } : undefined,
  });
  const redact = keyRedactor(options.apiKey, "sk-ant-");
  const ctx = retryContext({ policy: LIVE_RETRIES, redact, baseURL: options.baseURL });
  return async (line: string, { signal }: { signal: AbortSignal }): Promise<LiveResult> => {
    // a shard line, as encodeRequest wrote it
    const { custom_id: id, params } = JSON.parse(line) as {
      custom_id: string;
      params: Record<string, unknown>;
    };
    /** the SDK's error of the last attempt: what the failure says (withRetries' own is for logs) */
    let last: unknown;
    try {
      const message = await withRetries(
        ctx,
        "POST /v1/messages",
        (callSignal) =>
          client
            .post<unknown>("/v1/messages", { body: params, signal: callSignal })
            .catch((error: unknown) => {
              last = error;
              throw error;
            }),
        signal,
      );
      if (!isObject(message) || message.type !== "message")
        return liveFailure(
          id,
          "invalid_response",
          "POST /v1/messages answered something that is not a message",
          null,
          true,
        );
      const model = typeof message.model === "string" ? message.model : null;
      return { kind: "success", id, response: message, usage: toUsage(message.usage), model };
    } catch (thrown) {
      if (signal.aborted) throw signal.reason ?? thrown;
      const error = last ?? thrown;
      if (error instanceof Anthropic.APIError && typeof error.status === "number") {
        const body = isObject(error.error) && isObject(error.error.error) ? error.error.error : {};
        const code = typeof body.type === "string" ? body.type : `http_${error.status}`;
        const retryable = !FINAL_ERRORS.has(code) && ![400, 403, 404, 413].includes(error.status);
        return liveFailure(id, code, redact(error.message), error.status, retryable);
      }
      const message =
        error instanceof Anthropic.APIConnectionError ? `cannot reach ${options.baseURL}` : String(error);
      return liveFailure(id, "connection_error", redact(message), null, true);
    }
  };
}
