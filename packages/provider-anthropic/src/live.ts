/**
 * Live (synchronous) calls: one Messages request through the official SDK, for `batchpipe try` and
 * the requests still without a result when a run passes `batch.deadline`. The SDK's own retries
 * are on here (they honour retry-after): a live call is one request, not a batch to find again.
 */
import Anthropic from "@anthropic-ai/sdk";
import { keyRedactor, type LiveResult, liveFailure } from "@batchpipe/core/plugin";
import { FINAL_ERRORS, isObject, toUsage } from "./format.js";

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
    maxRetries: 4,
    timeout: options.timeoutMs ?? 600_000,
    defaultHeaders: options.betas.length > 0 ? { "anthropic-beta": options.betas.join(",") } : undefined,
  });
  const redact = keyRedactor(options.apiKey, "sk-ant-");
  return async (line: string, { signal }: { signal: AbortSignal }): Promise<LiveResult> => {
    // a shard line, as encodeRequest wrote it
    const { custom_id: id, params } = JSON.parse(line) as {
      custom_id: string;
      params: Record<string, unknown>;
    };
    try {
      const message = await client.post<unknown>("/v1/messages", { body: params, signal });
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
    } catch (error) {
      if (signal.aborted) throw signal.reason ?? error;
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
