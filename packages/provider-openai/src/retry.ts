/**
 * The openai SDK's errors for core's retry loop (`withRetries` in @batchpipe/core/plugin): the
 * client runs with maxRetries: 0 so that every call is retried there (retry-after honoured, a
 * half-done upload or create looked for before it is repeated, errors without the API key).
 */
import {
  type CallFailure,
  isAmbiguous as failureIsAmbiguous,
  statusOf as failureStatus,
  isUnreachable,
  type RetryContext,
} from "@batchpipe/core/plugin";
import { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError } from "openai";
import { UnexpectedAnswerError } from "./answers.js";

export {
  DEFAULT_RETRY_POLICY,
  ProviderError,
  type RetryContext,
  type RetryInfo,
  type RetryPolicy,
  retryPolicy,
  withRetries,
} from "@batchpipe/core/plugin";

/** An error of a call through the openai SDK, as core's retry loop reads it. */
export function readFailure(error: unknown): CallFailure | undefined {
  if (error instanceof APIUserAbortError) return { kind: "abort", message: error.message };
  if (error instanceof APIConnectionTimeoutError)
    return { kind: "timeout", message: error.message, cause: error.cause };
  if (error instanceof APIConnectionError)
    return { kind: "connection", message: error.message, cause: error.cause };
  if (error instanceof UnexpectedAnswerError) return { kind: "answer", message: error.message };
  if (error instanceof APIError) {
    return {
      kind: "http",
      status: typeof error.status === "number" ? error.status : undefined,
      headers: error.headers ?? undefined,
      code: error.code ?? undefined,
      message: apiMessage(error),
    };
  }
  return undefined;
}

/** What the user should do, where OpenAI's advice differs from the generic one. */
export function hint(failure: CallFailure): string | undefined {
  const status = failureStatus(failure);
  if (status === 401)
    return "Check the API key: export OPENAI_API_KEY or set provider.api_key, and that provider.base_url is the provider the key belongs to.";
  if (status === 403)
    return "The API key has no access to this project or model (or provider.base_url points elsewhere); check its permissions.";
  if (isUnreachable(failure))
    return "Check provider.base_url (or OPENAI_BASE_URL): the address and port, http vs https, that the server is running and reachable from here (network, proxy, firewall, DNS) and, for TLS errors, its certificate.";
  return undefined;
}

/** the retry context of a client: core's loop with the openai SDK's errors */
export function retryContext(o: Omit<RetryContext, "readFailure" | "hint">): RetryContext {
  return { ...o, readFailure, hint };
}

export function statusOf(error: unknown): number | undefined {
  return failureStatus(readFailure(error));
}

export function isAmbiguous(error: unknown): boolean {
  return failureIsAmbiguous(readFailure(error));
}

/** The error code or message of an API error, lower-cased, for matching (token_limit_exceeded). */
export function errorText(error: unknown): string {
  if (!(error instanceof APIError)) return "";
  return `${error.code ?? ""} ${apiMessage(error)}`.toLowerCase();
}

function apiMessage(error: APIError): string {
  const body = error.error as { message?: unknown } | undefined;
  if (body && typeof body.message === "string") return body.message;
  return error.message.replace(/^\d{3}\s+/, "");
}
