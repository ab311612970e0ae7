/**
 * Anthropic's SDK errors for core's retry loop (`withRetries` in @batchpipe/core/plugin), as
 * provider-openai does: the client runs with maxRetries: 0; retry-after is honoured, a create that
 * may have happened is looked for before it is repeated, errors never carry the API key, an address
 * where no server answers fails in seconds (PROVIDER_UNREACHABLE). 529 overloaded is transient.
 */
import {
  APIConnectionError,
  APIConnectionTimeoutError,
  APIError,
  APIUserAbortError,
} from "@anthropic-ai/sdk";
import {
  type CallFailure,
  isAmbiguous as failureIsAmbiguous,
  statusOf as failureStatus,
  isUnreachable,
  type RetryContext,
} from "@batchpipe/core/plugin";

export {
  DEFAULT_RETRY_POLICY,
  ProviderError,
  type RetryContext,
  type RetryInfo,
  type RetryPolicy,
  retryPolicy,
  withRetries,
} from "@batchpipe/core/plugin";

/** a condition worth another attempt that is not an HTTP error (e.g. a batch not yet tellable) */
export class Transient extends Error {}

/** An error of a call through Anthropic's SDK, as core's retry loop reads it. */
export function readFailure(error: unknown): CallFailure | undefined {
  if (error instanceof APIUserAbortError) return { kind: "abort", message: error.message };
  if (error instanceof APIConnectionTimeoutError)
    return { kind: "timeout", message: error.message, cause: error.cause };
  if (error instanceof APIConnectionError)
    return { kind: "connection", message: error.message, cause: error.cause };
  if (error instanceof Transient) return { kind: "transient", message: error.message };
  if (error instanceof APIError) {
    return {
      kind: "http",
      status: typeof error.status === "number" ? error.status : undefined,
      headers: error.headers ?? undefined,
      message: apiMessage(error),
    };
  }
  return undefined;
}

/** What the user should do, where Anthropic's advice differs from the generic one. */
export function hint(failure: CallFailure): string | undefined {
  const status = failureStatus(failure);
  if (status === 401) return "Check the API key: export ANTHROPIC_API_KEY or set provider.api_key.";
  if (status === 403) return "The API key has no access to this workspace or model; check its permissions.";
  if (status === 404) return "The batch no longer exists at Anthropic (deleted).";
  if (isUnreachable(failure))
    return "Check provider.base_url (or ANTHROPIC_BASE_URL): the address and port, http vs https, that the server is running and reachable from here (network, proxy, firewall, DNS) and, for TLS errors, its certificate.";
  return undefined;
}

/** the retry context of a client: core's loop with Anthropic's SDK errors */
export function retryContext(o: Omit<RetryContext, "readFailure" | "hint">): RetryContext {
  return { ...o, readFailure, hint };
}

export function statusOf(error: unknown): number | undefined {
  return failureStatus(readFailure(error));
}

export function isAmbiguous(error: unknown): boolean {
  return failureIsAmbiguous(readFailure(error));
}

/** The API's error message (`{ error: { type, message } }`), else the SDK's. */
export function apiMessage(error: unknown): string {
  if (!(error instanceof APIError)) return error instanceof Error ? error.message : String(error);
  const body = error.error as { error?: { message?: unknown } } | undefined;
  if (body?.error && typeof body.error.message === "string") return body.error.message;
  return error.message.replace(/^\d{3}\s+/, "");
}
