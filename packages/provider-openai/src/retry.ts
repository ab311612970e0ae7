/**
 * Our own retries around every SDK call (the client runs with maxRetries: 0), so that we decide
 * what happens between attempts: honour retry-after, look for a half-done upload or create before
 * repeating it, and fail with a PROVIDER_FAILED error that never carries the API key.
 */

import { BatchpipeError, ErrorCodes, type Logger } from "@batchpipe/core/plugin";
import { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError } from "openai";
import pRetry from "p-retry";
import { UnexpectedAnswerError } from "./answers.js";

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

  constructor(args: {
    route: string;
    message: string;
    hint: string;
    status?: number;
    attempts: number;
    /** PROVIDER_UNREACHABLE: no answer from the API at all (refused, DNS, TLS) or a refused key */
    unreachable?: boolean;
  }) {
    super(args.unreachable ? ErrorCodes.PROVIDER_UNREACHABLE : ErrorCodes.PROVIDER_FAILED, args.message, {
      hint: args.hint,
    });
    this.route = args.route;
    this.status = args.status;
    this.attempts = args.attempts;
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
}

/**
 * Attempts for a call that finds no server at all (refused, DNS, TLS): a few, so that a wrong
 * base_url ends the run in seconds; an outage after submission is waited out by the engine.
 */
const UNREACHABLE_ATTEMPTS = 3;

/**
 * Runs `attempt` until it succeeds, fails with a non-retryable error, or runs out of attempts.
 * An abort rejects with the signal's reason.
 *
 * `attempt` gets a signal of this call's own that follows `signal`: the SDK leaves a listener on
 * every signal it is given, and the caller's may live as long as the run.
 */
export async function withRetries<T>(
  ctx: RetryContext,
  route: string,
  attempt: (signal: AbortSignal) => Promise<T>,
  signal?: AbortSignal,
): Promise<T> {
  let attempts = 0;
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
        // p-retry's own delay is off: shouldRetry sleeps for the delay the server asked for
        minTimeout: 0,
        maxTimeout: 0,
        signal,
        shouldRetry: async ({ error, attemptNumber }) => {
          if (signal?.aborted || !isRetryable(error)) return false;
          if (isUnreachable(error) && attemptNumber >= UNREACHABLE_ATTEMPTS) return false;
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

/** Connection errors, timeouts, 408/409/429/5xx, or whatever `x-should-retry` says. */
export function isRetryable(error: unknown): boolean {
  if (error instanceof APIUserAbortError) return false;
  if (error instanceof APIConnectionError || error instanceof UnexpectedAnswerError) return true;
  if (!(error instanceof APIError)) return false;
  const hint = error.headers?.get("x-should-retry");
  if (hint === "true") return true;
  if (hint === "false") return false;
  const status = error.status ?? 0;
  return status === 408 || status === 409 || status === 429 || status >= 500;
}

/**
 * A failure after which the server may have done the work anyway: the connection dropped or
 * timed out, or the server answered 5xx/408. Creating again could then make a duplicate.
 */
export function isAmbiguous(error: unknown): boolean {
  if (error instanceof APIUserAbortError) return false;
  // a bad answer may hide a done call (a proxy's page in front of a created batch)
  if (error instanceof APIConnectionError || error instanceof UnexpectedAnswerError)
    return !isUnreachable(error);
  if (!(error instanceof APIError)) return false;
  const status = error.status ?? 0;
  return status === 408 || status >= 500;
}

/**
 * Error codes of a connection that never reached an HTTP server (refused, no such name, no route,
 * no connection within the connect timeout, TLS): nothing of the call can have been done.
 */
const UNREACHABLE_CODES =
  /^(ECONNREFUSED|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH|UND_ERR_CONNECT_TIMEOUT|EPROTO|ERR_SSL_.*|ERR_TLS_.*|CERT_.*|.*_CERT.*|UNABLE_TO_.*)$/;

/** No server of the API at this address (refused, DNS, TLS), or the key was refused (401/403). */
export function isUnreachable(error: unknown): boolean {
  if (error instanceof APIConnectionTimeoutError) return false;
  if (error instanceof APIConnectionError) {
    // fetch refuses some addresses outright ("bad port", e.g. :9 or :6000) without a code
    return UNREACHABLE_CODES.test(causeCode(error) ?? "") || /bad port/i.test(causeText(error));
  }
  const status = statusOf(error);
  return status === 401 || status === 403;
}

export function statusOf(error: unknown): number | undefined {
  return error instanceof APIError && typeof error.status === "number" ? error.status : undefined;
}

/** The error code or message of an API error, lower-cased, for matching (token_limit_exceeded). */
export function errorText(error: unknown): string {
  if (!(error instanceof APIError)) return "";
  return `${error.code ?? ""} ${apiMessage(error)}`.toLowerCase();
}

/** retry-after-ms, else retry-after (seconds or an HTTP date), else exponential backoff with jitter. */
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
  if (error instanceof APIConnectionError) {
    const why =
      causeCode(error) ??
      causeText(error)
        .replace(/^fetch failed\s*/, "")
        .slice(0, 80)
        .trim();
    return `${error.message.replace(/\.$/, "")}${why ? ` (${why})` : ""}`;
  }
  if (error instanceof APIError) {
    const code = error.code ? ` ${error.code}` : "";
    return `HTTP ${error.status ?? "?"}${code}: ${apiMessage(error)}`;
  }
  if (error instanceof Error) return error.message;
  return String(error);
}

function toProviderError(ctx: RetryContext, route: string, error: unknown, attempts: number): BatchpipeError {
  if (error instanceof BatchpipeError) return error;
  const status = statusOf(error);
  const tries = attempts > 1 ? ` after ${attempts} attempts` : "";
  const unreachable = isUnreachable(error);
  // the address is what to check when the API could not be reached or answered oddly
  const where =
    ctx.baseURL &&
    (unreachable || error instanceof APIConnectionError || error instanceof UnexpectedAnswerError)
      ? ` (provider at ${ctx.baseURL})`
      : "";
  return new ProviderError({
    route,
    status,
    attempts,
    unreachable,
    message: ctx.redact(`${route} failed${tries}: ${describeError(error)}${where}`),
    hint: hintFor(status, error),
  });
}

function hintFor(status: number | undefined, error: unknown): string {
  if (status === 401)
    return "Check the API key: export OPENAI_API_KEY or set provider.api_key, and that provider.base_url is the provider the key belongs to.";
  if (status === 403)
    return "The API key has no access to this project or model (or provider.base_url points elsewhere); check its permissions.";
  if (isUnreachable(error)) {
    return "Check provider.base_url (or OPENAI_BASE_URL): the address and port, http vs https, that the server is running and reachable from here (network, proxy, firewall, DNS) and, for TLS errors, its certificate.";
  }
  if (error instanceof UnexpectedAnswerError) {
    return "Something other than the API answered (a proxy, a captive portal, a wrong provider.base_url); check the base URL and the network, then run again: the run resumes where it stopped.";
  }
  if (status === 404) return "The object no longer exists at the provider (expired or deleted).";
  if (status === 413) return "The file is too large for the provider; lower batch.max_bytes.";
  if (
    status !== undefined &&
    status >= 400 &&
    status < 500 &&
    status !== 408 &&
    status !== 409 &&
    status !== 429
  ) {
    return "The provider rejected the request; fix what the message names.";
  }
  if (error instanceof APIConnectionError || (status !== undefined && (status >= 500 || status === 429))) {
    return "The provider kept failing or could not be reached; check provider.base_url and the provider's status, then run again (the run resumes where it stopped).";
  }
  return "Run again to resume; if it keeps failing, report it with this message.";
}

function apiMessage(error: APIError): string {
  const body = error.error as { message?: unknown } | undefined;
  if (body && typeof body.message === "string") return body.message;
  return error.message.replace(/^\d{3}\s+/, "");
}

function causeText(error: Error): string {
  const parts: string[] = [];
  let cause: unknown = error.cause;
  for (let depth = 0; depth < 4 && cause; depth++) {
    parts.push(String((cause as { message?: unknown }).message ?? ""));
    cause = (cause as { cause?: unknown }).cause;
  }
  return parts.join(" ");
}

function causeCode(error: Error): string | undefined {
  let cause: unknown = error.cause;
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
