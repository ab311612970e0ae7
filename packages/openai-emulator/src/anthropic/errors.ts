import type { IncomingMessage } from "node:http";
import { ApiError } from "../http/api-error.js";
import type { Reply } from "../http/server.js";
import type { FaultRule } from "../options.js";

/** Anthropic's error types by HTTP status (https://docs.anthropic.com/en/api/errors). */
const TYPES: Record<number, string> = {
  400: "invalid_request_error",
  401: "authentication_error",
  402: "billing_error",
  403: "permission_error",
  404: "not_found_error",
  413: "request_too_large",
  429: "rate_limit_error",
  500: "api_error",
  504: "timeout_error",
  529: "overloaded_error",
};

const MESSAGES: Record<string, string> = {
  rate_limit_error: "Number of request tokens has exceeded your per-minute rate limit.",
  api_error: "Internal server error",
  overloaded_error: "Overloaded",
  timeout_error: "Request timed out",
};

/** An error answered as `{"type":"error","error":{"type","message"},"request_id"}`. */
export class AnthropicError extends ApiError {
  constructor(
    status: number,
    message: string,
    init: { type?: string; headers?: Record<string, string> } = {},
  ) {
    super(status, message, { type: init.type ?? anthropicType(status), headers: init.headers });
  }
}

export function anthropicType(status: number): string {
  return TYPES[status] ?? (status >= 500 ? "api_error" : "invalid_request_error");
}

export function invalid(message: string): AnthropicError {
  return new AnthropicError(400, message);
}

export function missing(message: string): AnthropicError {
  return new AnthropicError(404, message);
}

/** The reply for any error thrown on an Anthropic route (OpenAI-style ApiErrors keep their status). */
export function anthropicErrorReply(error: unknown, requestId: string): Reply {
  const api =
    error instanceof ApiError ? error : new ApiError(500, `Internal emulator error: ${String(error)}`);
  const type = api instanceof AnthropicError ? api.type : anthropicType(api.status);
  return {
    status: api.status,
    json: { type: "error", error: { type, message: api.message }, request_id: requestId },
    headers: api.headers,
  };
}

export function anthropicFault(fault: FaultRule): AnthropicError {
  const status = fault.status ?? 500;
  const type = anthropicType(status);
  const headers: Record<string, string> = {};
  if (fault.retryAfter !== undefined) headers["retry-after"] = String(fault.retryAfter);
  if (fault.retryAfterMs !== undefined) headers["retry-after-ms"] = String(fault.retryAfterMs);
  if (fault.shouldRetry !== undefined) headers["x-should-retry"] = String(fault.shouldRetry);
  return new AnthropicError(status, fault.message ?? MESSAGES[type] ?? "Injected fault.", { type, headers });
}

/** `x-api-key` (or `Authorization: Bearer`, the SDK's authToken) and the `anthropic-version` header. */
export function checkAnthropicAuth(
  req: IncomingMessage,
  apiKey: string | undefined,
): AnthropicError | undefined {
  const header = req.headers["x-api-key"];
  const bearer = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? "")?.[1]?.trim();
  const key = (Array.isArray(header) ? header[0] : header)?.trim() || bearer;
  if (!key) return new AnthropicError(401, "x-api-key header is required");
  if (apiKey !== undefined && key !== apiKey) return new AnthropicError(401, "invalid x-api-key");
  if (!req.headers["anthropic-version"]) return invalid("anthropic-version: header is required");
  return undefined;
}
