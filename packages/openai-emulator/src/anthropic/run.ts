/**
 * One Message Batch's run: its requests answered at `latencies.linesPerSecond` of virtual time
 * (params checked now, line rules applied), the rest `canceled` on cancel or `expired` at
 * expires_at (+ expiryLag) or after `expireAfterLines`; then the results written shuffled and the
 * batch `ended`, its queue share given back.
 */
import { createHash } from "node:crypto";
import { setMaxListeners } from "node:events";
import { type LineFailure, matchLineRule } from "../batches/line-rules.js";
import { ResultFile } from "../batches/results.js";
import { bump } from "../context.js";
import { createRandom, hashUnit } from "../random.js";
import { TimeSlices } from "../slices.js";
import type { AnthropicBatches } from "./engine.js";
import { anthropicType } from "./errors.js";
import { checkParams, respondMessage } from "./responder.js";
import type { BatchRequest, MessageBatchRecord } from "./types.js";

type Stop = "canceled" | "expired";

export async function runMessageBatch(
  host: AnthropicBatches,
  record: MessageBatchRecord,
  life: AbortSignal,
): Promise<void> {
  const { clock, store } = host.ctx;
  const requests = record.requests ?? [];
  const cancel = record.cancel.signal;
  const results = new ResultFile(store.tmpPath(".msgbatch"));
  try {
    const startMs = clock.nowMs();
    const expireAtMs = record.expiresMs + host.ctx.options.latencies.expiryLag * 1000;
    let stop: Stop | undefined;
    let done = 0;
    const slices = new TimeSlices();
    const checkStop = () => {
      if (stop) return;
      const limit = host.ctx.options.expireAfterLines;
      if (cancel.aborted) stop = "canceled";
      else if (limit !== undefined && done >= limit) stop = "expired";
      else if (clock.nowMs() >= expireAtMs) stop = "expired";
    };
    for (const request of requests) {
      if (life.aborted) return;
      checkStop();
      if (!stop) {
        // pace to linesPerSecond of virtual time; sleep only when ahead of schedule
        const dueMs = startMs + ((done + 1) / host.ctx.options.latencies.linesPerSecond) * 1000;
        const nowMs = clock.nowMs();
        if (nowMs < dueMs) {
          await clock.sleep((Math.min(dueMs, expireAtMs) - nowMs) / 1000, anySignal(cancel, life));
          if (life.aborted) return;
          checkStop();
        } else if (slices.due()) {
          await slices.turn();
        }
      }
      if (stop) {
        results.append({ custom_id: request.custom_id, result: { type: stop } });
        record.outcomes[stop]++;
        continue;
      }
      execute(host, record, request, results);
      done++;
    }
    if (stop === "canceled" || cancel.aborted) {
      await clock.sleep(host.ctx.options.latencies.cancelDrain, life);
      if (life.aborted) return;
    }
    const { options } = host.ctx;
    const random = options.shuffleOutput
      ? createRandom(Math.floor(hashUnit(options.seed, record.id, "results") * 2 ** 32))
      : undefined;
    const path = store.tmpPath(".jsonl");
    const written = results.finish(path, random);
    record.resultsPath = path;
    record.resultsBytes = written?.bytes ?? 0;
    record.requests = undefined;
    record.status = "ended";
    record.endedMs = clock.nowMs();
    bump(host.ctx, "anthropic_batches_ended");
    host.release(record);
  } finally {
    results.dispose();
  }
}

function execute(
  host: AnthropicBatches,
  record: MessageBatchRecord,
  request: BatchRequest,
  results: ResultFile,
): void {
  const { options } = host.ctx;
  const customId = request.custom_id;
  const attempt = (host.executions.get(customId) ?? 0) + 1;
  host.executions.set(customId, attempt);
  bump(host.ctx, "anthropic_requests_executed");
  const errored = (status: number, message: string) => {
    bump(host.ctx, "anthropic_requests_errored");
    record.outcomes.errored++;
    const type = anthropicType(status);
    const error = { type: "error", error: { type, message }, request_id: null };
    results.append({ custom_id: customId, result: { type: "errored", error } });
  };
  const invalid = checkParams(request.params, options.anthropicModels, true);
  if (invalid) {
    errored(invalid.status, invalid.message);
    return;
  }

  const model = String(request.params.model);
  const failure =
    options.lineRules.length > 0
      ? matchLineRule(options.lineRules, customId, attempt, options.seed, model, "")
      : undefined;
  if (failure && !failure.oddity && !failure.stop) {
    const { status, message } = anthropicRuleError(failure, model);
    errored(status, message);
    return;
  }
  const answer = respondMessage(request.params, host.ids, "batch", host.promptCache, failure?.stop);
  record.outcomes.succeeded++;
  host.paid.set(customId, (host.paid.get(customId) ?? 0) + 1);
  const hash = createHash("sha256").update(JSON.stringify(request.params)).digest("hex");
  host.paidParams.set(hash, [...(host.paidParams.get(hash) ?? []), customId]);
  if (failure?.oddity === "omit") return;
  if (failure?.oddity === "malformed") {
    results.appendText(`{"custom_id":${JSON.stringify(customId)},"result":{"type":"succeeded","mess`);
    return;
  }
  const id = failure?.oddity === "unknown_id" ? `unknown-${customId}` : customId;
  results.append({ custom_id: id, result: { type: "succeeded", message: answer.message } });
}

/** A line rule's error as Anthropic words it (no HTTP status, a request_timeout: 504 timeout_error). */
export function anthropicRuleError(
  failure: LineFailure,
  model: string,
): { status: number; type: string; message: string } {
  const code = failure.error.code ?? "";
  const status = failure.status ?? 504;
  const type = anthropicType(status);
  return { status, type, message: MESSAGES[code]?.(model) ?? DEFAULT_MESSAGES[type] ?? "Error" };
}

/** Anthropic's wording for the line-rule kinds (rules' `message` applies to the OpenAI side). */
const MESSAGES: Record<string, (model: string) => string> = {
  context_length_exceeded: () => "prompt is too long: 210000 tokens > 200000 maximum",
  model_not_found: (model) => `model: ${model}`,
  content_policy_violation: () => "Output blocked by content filtering policy",
};

const DEFAULT_MESSAGES: Record<string, string> = {
  invalid_request_error: "There was an issue with the format or content of your request.",
  not_found_error: "The requested resource was not found.",
  rate_limit_error: "Number of request tokens has exceeded your per-minute rate limit.",
  api_error: "Internal server error",
  timeout_error: "Request timed out",
  overloaded_error: "Overloaded",
};

function anySignal(a: AbortSignal, b: AbortSignal): AbortSignal {
  const signal = AbortSignal.any([a, b]);
  setMaxListeners(0, signal);
  return signal;
}
