/**
 * Retries around a provider's HTTP calls, for provider plugins. The SDKs run with their own
 * retries off so that the provider decides what happens between attempts: honour retry-after,
 * look for a half-done upload or create before repeating it, give up in seconds on an address
 * where no server answers, and fail with a PROVIDER_FAILED (or PROVIDER_UNREACHABLE) error that
 * never carries the API key.
 *
 * What is generic to HTTP lives here; a provider tells it how to read its SDK's errors
 * (`readFailure`) and what to tell its user (`hint`).
 */
import { z } from "zod";
import { BatchpipeError, ErrorCodes } from "../errors.js";
import type { Logger } from "../plugin.js";
import { currentRetryDeadline } from "./retry-deadline.js";

export interface RetryPolicy {
  /** attempts in total, including the first (default 8) */
  maxAttempts: number;
  /** first backoff delay (default 1 s); doubles per attempt, with jitter */
  minDelayMs: number;
  /** backoff cap (default 30 s); 8 attempts then span about 1.5 minutes */
  maxDelayMs: number;
  /** a retry-after longer than this is shortened to it (default 60 s) */
  maxRetryAfterMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  maxAttempts: 8,
  minDelayMs: 1000,
  maxDelayMs: 30_000,
  maxRetryAfterMs: 60_000,
};

/**
 * Removes an API key from text a provider produces (errors, logs): the key itself, and anything that
 * looks like a key of the provider's kind (`prefix`, e.g. "sk-"), such as one echoed back by a server.
 */
export function keyRedactor(apiKey: string, prefix: string): (text: string) => string {
  const lookalike = new RegExp(`\\b${prefix.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}[A-Za-z0-9_-]{8,}`, "g");
  return (text) => {
    const out = apiKey.length >= 4 ? text.split(apiKey).join("[redacted]") : text;
    return out.replace(lookalike, `${prefix}[redacted]`);
  };
}

/** a provider's spec options for its retries (spread into its options schema) */
export const retryOptions = {
  retry_attempts: z
    .int()
    .min(1)
    .max(100)
    .optional()
    .meta({ description: "Attempts per API call, the first included. Default 8 (about 1.5 minutes)." }),
  retry_min_delay_ms: z
    .int()
    .min(0)
    .optional()
    .meta({ description: "First backoff delay; it doubles per attempt. Default 1000. retry-after wins." }),
  retry_max_delay_ms: z.int().min(0).optional().meta({ description: "Backoff cap. Default 30000." }),
};

/** the policy of the given settings, the defaults where one is not set */
export function retryPolicy(set: Partial<RetryPolicy>): RetryPolicy {
  const policy = { ...DEFAULT_RETRY_POLICY };
  for (const key of Object.keys(policy) as (keyof RetryPolicy)[]) {
    if (set[key] !== undefined) policy[key] = set[key];
  }
  return policy;
}

/**
 * A failed call as the retry loop sees it:
 * - `http`: the API answered with an error status;
 * - `connection`: no answer (refused, reset, DNS, TLS); `timeout`: no answer in time;
 * - `answer`: a 2xx that was not the API's (a proxy's page, an empty body): may hide a done call;
 * - `transient`: a condition worth another attempt that is not an HTTP error;
 * - `abort`: the call was cancelled.
 */
export type CallFailure =
  | { kind: "http"; status: number | undefined; headers?: Headers; code?: string; message: string }
  | { kind: "connection" | "timeout"; message: string; cause?: unknown }
  | { kind: "answer" | "transient" | "abort"; message: string };

export interface RetryInfo {
  /** e.g. "POST /batches" */
  route: string;
  /** the attempt that just failed (1-based) */
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
  readonly attempts: number;
  /**
   * With status 404: results the batch's counts say exist are absent or empty. Tried again like a
   * gone result file; after that their requests are `missing` (missing_result), not results_unavailable.
   */
  readonly resultsAbsent: boolean;

  constructor(args: {
    route: string;
    message: string;
    hint: string;
    status?: number;
    attempts: number;
    /** PROVIDER_UNREACHABLE: no answer from the API at all (refused, DNS, TLS, timed out every time) or a refused key */
    unreachable?: boolean;
    resultsAbsent?: boolean;
  }) {
    super(args.unreachable ? ErrorCodes.PROVIDER_UNREACHABLE : ErrorCodes.PROVIDER_FAILED, args.message, {
      hint: args.hint,
    });
    this.route = args.route;
    this.status = args.status;
    this.attempts = args.attempts;
    this.resultsAbsent = args.resultsAbsent === true;
  }
}

export interface RetryContext {
  policy: RetryPolicy;
  logger?: Logger;
  onRetry?: (info: RetryInfo) => void;
  /** removes secrets from any text we produce */
  redact: (text: string) => string;
  /** named in errors: what the user checks when the provider cannot be reached */
  baseURL?: string;
  /** the SDK's error as a CallFailure; undefined for an error that is not a call's (a bug: not retried) */
  readFailure: (error: unknown) => CallFailure | undefined;
  /** what the user should do after `failure`; undefined for the generic advice */
  hint?: (failure: CallFailure) => string | undefined;
}

/**
 * Attempts for a call that finds no server at all (refused, DNS, TLS): a few, so that a wrong
 * base_url ends the run in seconds; an outage after submission is waited out by the engine.
 */
const UNREACHABLE_ATTEMPTS = 3;

/**
 * Runs `attempt` until it succeeds, fails with a non-retryable error, runs out of attempts, or its
 * next retry would start past the deadline of an enclosing withRetryDeadline.
 * An abort rejects with the signal's reason.
 *
 * `attempt` gets a signal of this call's own that follows `signal`: an SDK may leave a listener on
 * every signal it is given, and the caller's may live as long as the run.
 */
export async function withRetries<T>(
  ctx: RetryContext,
  route: string,
  attempt: (signal: AbortSignal) => Promise<T>,
  signal?: AbortSignal,
): Promise<T> {
  const startedAt = Date.now();
  const call = new AbortController();
  const follow = () => call.abort(signal?.reason);
  if (signal?.aborted) follow();
  else signal?.addEventListener("abort", follow, { once: true });
  try {
    for (let n = 1; ; n++) {
      try {
        return await attempt(call.signal);
      } catch (error) {
        if (signal?.aborted) throw signal.reason ?? error;
        const failure = ctx.readFailure(error);
        const again =
          failure !== undefined &&
          n < ctx.policy.maxAttempts &&
          isRetryable(failure) &&
          !(givesUpEarly(failure) && n >= UNREACHABLE_ATTEMPTS);
        if (!again) throw toProviderError(ctx, route, error, failure, n);
        const delayMs = retryDelay(failure, n, ctx.policy);
        // a retry that would start past the caller's deadline is its caller's to decide (the engine's: batch.max_outage)
        const deadline = currentRetryDeadline();
        if (deadline && Date.now() + delayMs > deadline(startedAt)) {
          throw toProviderError(ctx, route, error, failure, n);
        }
        const info: RetryInfo = {
          route,
          attempt: n,
          maxAttempts: ctx.policy.maxAttempts,
          delayMs,
          status: statusOf(failure),
          reason: ctx.redact(describeFailure(failure)),
        };
        ctx.logger?.warn(`${route} failed (${info.reason}); retrying in ${delayMs} ms`, { ...info });
        ctx.onRetry?.(info);
        await sleep(delayMs, signal);
      }
    }
  } finally {
    signal?.removeEventListener("abort", follow);
  }
}

/**
 * Failures tried UNREACHABLE_ATTEMPTS times, not maxAttempts: no server at the address, a refused key,
 * or no answer within the call's timeout (a server that accepts connections and never answers took
 * 8 timeouts, ~9.5 min at 60 s, to fail). Past that the engine decides: before anything was submitted
 * the run stops (PROVIDER_UNREACHABLE), after it the outage clock runs (batch.max_outage).
 */
function givesUpEarly(failure: CallFailure | undefined): boolean {
  return isUnreachable(failure) || failure?.kind === "timeout";
}

/** Connection errors, timeouts, odd answers, 408/409/429/5xx, or whatever `x-should-retry` says. */
export function isRetryable(failure: CallFailure | undefined): boolean {
  if (!failure) return false;
  if (failure.kind !== "http") return failure.kind !== "abort";
  const hint = failure.headers?.get("x-should-retry");
  if (hint === "true") return true;
  if (hint === "false") return false;
  const status = failure.status ?? 0;
  return status === 408 || status === 409 || status === 429 || status >= 500;
}

/**
 * A failure after which the server may have done the work anyway: the connection dropped or timed
 * out, a 2xx was not the API's, or the server answered 5xx/408. Creating again could then make a
 * duplicate.
 */
export function isAmbiguous(failure: CallFailure | undefined): boolean {
  if (!failure) return false;
  if (failure.kind === "connection") return !isUnreachable(failure);
  if (failure.kind === "timeout" || failure.kind === "answer") return true;
  if (failure.kind !== "http") return false;
  const status = failure.status ?? 0;
  return status === 408 || status >= 500;
}

/**
 * Error codes of a connection that never reached an HTTP server (refused, no such name, no route,
 * no connection within the connect timeout, TLS): nothing of the call can have been done.
 */
const UNREACHABLE_CODES =
  /^(ECONNREFUSED|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH|UND_ERR_CONNECT_TIMEOUT|EPROTO|ERR_SSL_.*|ERR_TLS_.*|CERT_.*|.*_CERT.*|UNABLE_TO_.*)$/;

/** No server of the API at this address (refused, DNS, TLS), or the key was refused (401/403). */
export function isUnreachable(failure: CallFailure | undefined): boolean {
  if (failure?.kind === "connection") {
    // fetch refuses some addresses outright ("bad port", e.g. :9 or :6000) without a code
    return (
      UNREACHABLE_CODES.test(causeCode(failure.cause) ?? "") || /bad port/i.test(causeText(failure.cause))
    );
  }
  const status = statusOf(failure);
  return status === 401 || status === 403;
}

export function statusOf(failure: CallFailure | undefined): number | undefined {
  return failure?.kind === "http" ? failure.status : undefined;
}

/** retry-after-ms, else retry-after (seconds or an HTTP date), else exponential backoff with jitter. */
export function retryDelay(failure: CallFailure, attemptNumber: number, policy: RetryPolicy): number {
  const fromHeader = retryAfterMs(failure.kind === "http" ? failure.headers : undefined);
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

/** one line for logs and errors: `HTTP 429 rate_limit: …`, or the connection error and its cause */
export function describeFailure(failure: CallFailure): string {
  if (failure.kind === "http") {
    const code = failure.code ? ` ${failure.code}` : "";
    return `HTTP ${failure.status ?? "?"}${code}: ${failure.message}`;
  }
  if (failure.kind === "connection" || failure.kind === "timeout") {
    const why =
      causeCode(failure.cause) ??
      causeText(failure.cause)
        .replace(/^fetch failed\s*/, "")
        .slice(0, 80)
        .trim();
    return `${failure.message.replace(/\.$/, "")}${why ? ` (${why})` : ""}`;
  }
  return failure.message;
}

function toProviderError(
  ctx: RetryContext,
  route: string,
  error: unknown,
  failure: CallFailure | undefined,
  attempts: number,
): BatchpipeError {
  if (error instanceof BatchpipeError) return error;
  const status = statusOf(failure);
  const tries = attempts > 1 ? ` after ${attempts} attempts` : "";
  // a call that timed out every time is reported like one that found no server (the engine stops a
  // run that has submitted nothing, and counts it toward batch.max_outage otherwise)
  const unreachable = givesUpEarly(failure);
  // the address is what to check when the API could not be reached or answered oddly
  const where =
    ctx.baseURL && (unreachable || failure?.kind === "connection" || failure?.kind === "answer")
      ? ` (provider at ${ctx.baseURL})`
      : "";
  const described = failure
    ? describeFailure(failure)
    : error instanceof Error
      ? error.message
      : String(error);
  return new ProviderError({
    route,
    status,
    attempts,
    unreachable,
    message: ctx.redact(`${route} failed${tries}: ${described}${where}`),
    hint: (failure && ctx.hint?.(failure)) ?? genericHint(failure),
  });
}

function genericHint(failure: CallFailure | undefined): string {
  const status = statusOf(failure);
  if (isUnreachable(failure)) {
    return "Check provider.base_url: the address and port, http vs https, that the server is running and reachable from here (network, proxy, firewall, DNS) and, for TLS errors, its certificate.";
  }
  if (failure?.kind === "timeout") {
    return "Nothing answered within the call's timeout: check provider.base_url (a port where something accepts connections but never answers, a proxy, a firewall) and the network; for a provider that is only slow, raise provider.timeout_ms. Run again to resume.";
  }
  if (failure?.kind === "answer") {
    return "Something other than the API answered (a proxy, a captive portal, a wrong provider.base_url); check the base URL and the network, then run again: the run resumes where it stopped.";
  }
  if (status === 404) return "The object no longer exists at the provider (expired or deleted).";
  if (status === 413) return "The request is too large for the provider; lower batch.max_bytes.";
  if (status !== undefined && status >= 400 && status < 500 && ![408, 409, 429].includes(status)) {
    return "The provider rejected the request; fix what the message names.";
  }
  if (failure?.kind === "connection" || (status ?? 0) >= 429) {
    return "The provider kept failing or could not be reached; check provider.base_url and the provider's status, then run again (the run resumes where it stopped).";
  }
  return "Run again to resume; if it keeps failing, report it with this message.";
}

function causeText(cause: unknown): string {
  const parts: string[] = [];
  for (let depth = 0; depth < 4 && cause; depth++) {
    parts.push(String((cause as { message?: unknown }).message ?? ""));
    cause = (cause as { cause?: unknown }).cause;
  }
  return parts.join(" ");
}

function causeCode(cause: unknown): string | undefined {
  for (let depth = 0; depth < 4 && cause; depth++) {
    const code = (cause as { code?: unknown }).code;
    if (typeof code === "string") return code;
    cause = (cause as { cause?: unknown }).cause;
  }
  return undefined;
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
