/**
 * Our own retries around every SDK call (the client runs with maxRetries: 0), as provider-openai
 * does: honour retry-after, look for a create that may have happened before repeating it, and fail
 * with a PROVIDER_FAILED error that never carries the API key. 529 overloaded is transient.
 */

import { APIConnectionError, APIError, APIUserAbortError } from "@anthropic-ai/sdk";
import { BatchpipeError, ErrorCodes, type Logger } from "@batchpipe/core/plugin";
import pRetry from "p-retry";

export interface RetryPolicy {
  maxAttempts: number;
  minDelayMs: number;
  maxDelayMs: number;
  maxRetryAfterMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  maxAttempts: 8,
  minDelayMs: 1000,
  maxDelayMs: 30_000,
  maxRetryAfterMs: 60_000,
};

export interface RetryInfo {
  route: string;
  attempt: number;
  maxAttempts: number;
  delayMs: number;
  status?: number;
  reason: string;
}

/** Thrown by every provider call that could not be completed; `status` is the last HTTP status. */
export class ProviderError extends BatchpipeError {
  readonly route: string;
  readonly status?: number;

  constructor(args: { route: string; message: string; hint: string; status?: number }) {
    super(ErrorCodes.PROVIDER_FAILED, args.message, { hint: args.hint });
    this.route = args.route;
    this.status = args.status;
  }
}

export interface RetryContext {
  policy: RetryPolicy;
  logger?: Logger;
  onRetry?: (info: RetryInfo) => void;
  redact: (text: string) => string;
}

/** Runs `attempt` until it succeeds, fails for good, or runs out of attempts; an abort rejects with the signal's reason. */
export async function withRetries<T>(
  ctx: RetryContext,
  route: string,
  attempt: (signal: AbortSignal) => Promise<T>,
  signal?: AbortSignal,
): Promise<T> {
  let attempts = 0;
  // a signal of this call's own: the SDK leaves a listener on every signal it is given
  const call = new AbortController();
  const follow = () => call.abort(signal?.reason);
  if (signal?.aborted) follow();
  else signal?.addEventListener("abort", follow, { once: true });
  try {
    return await pRetry(
      (n) => {
        attempts = n;
        return attempt(call.signal);
      },
      {
        retries: Math.max(0, ctx.policy.maxAttempts - 1),
        minTimeout: 0,
        maxTimeout: 0,
        signal,
        shouldRetry: async ({ error, attemptNumber }) => {
          if (signal?.aborted || !isRetryable(error)) return false;
          const delayMs = retryDelay(error, attemptNumber, ctx.policy);
          const info: RetryInfo = {
            route,
            attempt: attemptNumber,
            maxAttempts: ctx.policy.maxAttempts,
            delayMs,
            status: statusOf(error),
            reason: ctx.redact(describeError(error)),
          };
          ctx.logger?.warn(`${route} failed (${info.reason}); retrying in ${delayMs} ms`, { ...info });
          ctx.onRetry?.(info);
          await sleep(delayMs, signal);
          return true;
        },
      },
    );
  } catch (error) {
    if (signal?.aborted) throw signal.reason ?? error;
    throw toProviderError(ctx, route, error, attempts);
  } finally {
    signal?.removeEventListener("abort", follow);
  }
}

/** Connection errors, timeouts, 408/409/429/5xx (529 included), or whatever `x-should-retry` says. */
export function isRetryable(error: unknown): boolean {
  if (error instanceof APIUserAbortError) return false;
  if (error instanceof APIConnectionError) return true;
  if (error instanceof Transient) return true;
  if (!(error instanceof APIError)) return false;
  const hint = error.headers?.get("x-should-retry");
  if (hint === "true") return true;
  if (hint === "false") return false;
  const status = error.status ?? 0;
  return status === 408 || status === 409 || status === 429 || status >= 500;
}

/** A failure after which the server may have done the work anyway: a create could be a duplicate. */
export function isAmbiguous(error: unknown): boolean {
  if (error instanceof APIUserAbortError) return false;
  if (error instanceof APIConnectionError) return true;
  if (!(error instanceof APIError)) return false;
  const status = error.status ?? 0;
  return status === 408 || status >= 500;
}

/** a condition worth another attempt that is not an HTTP error (e.g. a batch not yet tellable) */
export class Transient extends Error {}

export function statusOf(error: unknown): number | undefined {
  return error instanceof APIError && typeof error.status === "number" ? error.status : undefined;
}

/** The API's error message (`{ error: { type, message } }`), else the SDK's. */
export function apiMessage(error: unknown): string {
  if (!(error instanceof APIError)) return error instanceof Error ? error.message : String(error);
  const body = error.error as { error?: { message?: unknown } } | undefined;
  if (body?.error && typeof body.error.message === "string") return body.error.message;
  return error.message.replace(/^\d{3}\s+/, "");
}

export function retryDelay(error: unknown, attemptNumber: number, policy: RetryPolicy): number {
  const fromHeader = retryAfterMs(error instanceof APIError ? error.headers : undefined);
  if (fromHeader !== undefined) return Math.min(fromHeader, policy.maxRetryAfterMs);
  const base = Math.min(policy.minDelayMs * 2 ** (attemptNumber - 1), policy.maxDelayMs);
  return Math.round(base * (1 - Math.random() * 0.25));
}

function retryAfterMs(headers: Headers | undefined): number | undefined {
  if (!headers) return undefined;
  const ms = Number.parseFloat(headers.get("retry-after-ms") ?? "");
  if (Number.isFinite(ms) && ms >= 0) return Math.round(ms);
  const value = headers.get("retry-after");
  if (!value) return undefined;
  const seconds = Number.parseFloat(value);
  if (Number.isFinite(seconds) && seconds >= 0) return Math.round(seconds * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

export function describeError(error: unknown): string {
  if (error instanceof APIConnectionError) return error.message.replace(/\.$/, "");
  if (error instanceof APIError) return `HTTP ${error.status ?? "?"}: ${apiMessage(error)}`;
  if (error instanceof Error) return error.message;
  return String(error);
}

function toProviderError(ctx: RetryContext, route: string, error: unknown, attempts: number): BatchpipeError {
  if (error instanceof BatchpipeError) return error;
  const status = statusOf(error);
  const tries = attempts > 1 ? ` after ${attempts} attempts` : "";
  return new ProviderError({
    route,
    status,
    message: ctx.redact(`${route} failed${tries}: ${describeError(error)}`),
    hint: hintFor(status),
  });
}

function hintFor(status: number | undefined): string {
  if (status === 401) return "Check the API key: export ANTHROPIC_API_KEY or set provider.api_key.";
  if (status === 403) return "The API key has no access to this workspace or model; check its permissions.";
  if (status === 404) return "The batch no longer exists at Anthropic (deleted).";
  if (status === 413) return "The batch is too large for the API; lower batch.max_bytes.";
  if (status !== undefined && status >= 400 && status < 500 && ![408, 409, 429].includes(status))
    return "The API rejected the request; fix what the message names.";
  return "Anthropic kept failing or could not be reached; check provider.base_url and Anthropic's status, then run again (the run resumes where it stopped).";
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
