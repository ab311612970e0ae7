import type { LineErrorKind, LineOddity, LineRule, LineStop } from "../options.js";
import { hashUnit } from "../random.js";

export interface LineFailure {
  /** HTTP status of the line, or null for a non-HTTP failure (request_timeout). */
  status: number | null;
  error: { message: string; type: string; param: string | null; code: string | null };
  /** test-only: write this oddity instead of a result line */
  oddity?: LineOddity;
  /** for oddity long_line */
  lineBytes?: number;
  /** not a failure: a success the model stopped before its end (LineRule.stop) */
  stop?: LineStop;
}

/**
 * The first rule matching this execution of `customId`, as a failure; undefined when the line should succeed.
 * `attempt` is the 1-based execution count of this custom_id across batches. `named` false: `customId`
 * is only the key of the rate draw (a live request that carries no id), so rules that name
 * custom_ids do not match it.
 */
export function matchLineRule(
  rules: readonly LineRule[],
  customId: string,
  attempt: number,
  seed: number,
  model: string,
  requestId: string,
  named = true,
): LineFailure | undefined {
  for (let i = 0; i < rules.length; i++) {
    const rule = rules[i]!;
    if (!named && (rule.customIds || rule.customIdPattern !== undefined)) continue;
    if (rule.customIds && !rule.customIds.includes(customId)) continue;
    if (rule.customIdPattern !== undefined && !compiled(rule.customIdPattern).test(customId)) continue;
    if (rule.rate !== undefined && hashUnit(seed, i, customId, attempt) >= rule.rate) continue;
    if (rule.attempts !== undefined && attempt > rule.attempts) continue;
    const failure = failureFor(rule.error ?? "server_error", model, requestId, rule);
    if (rule.oddity) return { ...failure, oddity: rule.oddity, lineBytes: rule.lineBytes };
    return rule.stop ? { ...failure, stop: rule.stop } : failure;
  }
  return undefined;
}

const patterns = new Map<string, RegExp>();

function compiled(source: string): RegExp {
  let re = patterns.get(source);
  if (!re) {
    re = new RegExp(source);
    if (patterns.size > 1000) patterns.clear();
    patterns.set(source, re);
  }
  return re;
}

export function ruleNeedsAttempts(rules: readonly LineRule[]): boolean {
  return rules.some((r) => r.attempts !== undefined);
}

function failureFor(kind: LineErrorKind, model: string, requestId: string, rule: LineRule): LineFailure {
  const make = (
    status: number,
    message: string,
    type: string,
    param: string | null,
    code: string | null,
  ) => ({
    status: rule.status ?? status,
    error: { message: rule.message ?? message, type, param, code },
  });
  switch (kind) {
    case "context_length_exceeded":
      return make(
        400,
        "This model's maximum context length is 128000 tokens. However, your messages resulted in 131072 tokens. Please reduce the length of the messages.",
        "invalid_request_error",
        "messages",
        "context_length_exceeded",
      );
    case "model_not_found":
      return make(
        404,
        `The model \`${model}\` does not exist or you do not have access to it.`,
        "invalid_request_error",
        null,
        "model_not_found",
      );
    case "rate_limit_exceeded":
      return make(
        429,
        `Rate limit reached for ${model} in organization org-emulator on requests per min (RPM): Limit 500, Used 500, Requested 1. Please try again in 120ms.`,
        "requests",
        null,
        "rate_limit_exceeded",
      );
    case "content_policy_violation":
      return make(
        400,
        "Your request was rejected as a result of our safety system. Your request may contain content that is not allowed by our safety system.",
        "invalid_request_error",
        null,
        "content_policy_violation",
      );
    case "request_timeout":
      return {
        status: null,
        error: {
          message: rule.message ?? "The request timed out.",
          type: "",
          param: null,
          code: "request_timeout",
        },
      };
    default:
      return make(
        500,
        `An error occurred while processing your request. You can retry your request, or contact us through our help center at help.openai.com if the error persists. Please include the request ID ${requestId} in your message.`,
        "server_error",
        null,
        null,
      );
  }
}
