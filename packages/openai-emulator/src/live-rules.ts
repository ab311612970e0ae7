/**
 * Line rules (`lineRules`) for live requests: OpenAI's POST /v1/chat/completions, /v1/responses,
 * /v1/embeddings, /v1/completions, /v1/moderations and Anthropic's POST /v1/messages, what
 * `batchpipe try` and batch.deadline's live fallback call. A live request carries no custom_id, and
 * batchpipe's providers send nothing that names the record; so its id is a field the API takes
 * anyway: OpenAI's `user`, Anthropic's `metadata.user_id`. A pipeline that sets it to the record id
 * (`user: "{{ id }}"`) gets the same rules live as in its batches. A request without one is matched
 * only by rules that name no custom_id; its `rate` draw and `attempts` are keyed by a hash of its
 * body. Oddities shape a batch's output file: a live request whose first matching rule is an oddity
 * is answered normally.
 */
import { createHash } from "node:crypto";
import { type LineFailure, matchLineRule, ruleNeedsAttempts } from "./batches/line-rules.js";
import { ApiError } from "./http/api-error.js";
import type { LineRule } from "./options.js";

export interface LiveMatch {
  rules: readonly LineRule[];
  /** the request's id (`user`, `metadata.user_id`), if it has one */
  id: string | undefined;
  body: unknown;
  /** executions so far per id (shared with the batches' count of custom_ids) */
  attempts: Map<string, number>;
  seed: number;
  model: string;
  requestId: string;
}

/** The rule failure (or stop) for this live request, or undefined when it is answered normally. */
export function matchLiveRule(m: LiveMatch): LineFailure | undefined {
  if (m.rules.length === 0) return undefined;
  const key = m.id ?? `live:${createHash("sha256").update(JSON.stringify(m.body)).digest("hex")}`;
  let attempt = 1;
  if (ruleNeedsAttempts(m.rules)) {
    attempt = (m.attempts.get(key) ?? 0) + 1;
    m.attempts.set(key, attempt);
  }
  const failure = matchLineRule(m.rules, key, attempt, m.seed, m.model, m.requestId, m.id !== undefined);
  return failure?.oddity ? undefined : failure;
}

/** OpenAI's live id: the body's `user` string. */
export function openaiLiveId(body: Record<string, unknown>): string | undefined {
  return typeof body.user === "string" && body.user !== "" ? body.user : undefined;
}

/** Anthropic's live id: `metadata.user_id`. */
export function anthropicLiveId(params: Record<string, unknown>): string | undefined {
  const metadata = params.metadata as Record<string, unknown> | null | undefined;
  const id = metadata && typeof metadata === "object" ? metadata.user_id : undefined;
  return typeof id === "string" && id !== "" ? id : undefined;
}

/**
 * A rule's error as OpenAI answers a live request: the line's status and error body; a
 * `request_timeout` (no HTTP status in a batch) as 504 with code request_timeout.
 */
export function openaiLiveError(failure: LineFailure): ApiError {
  const { message, type, param, code } = failure.error;
  if (failure.status === null) return new ApiError(504, message, { type: "server_error", code });
  return new ApiError(failure.status, message, { type, param, code });
}
