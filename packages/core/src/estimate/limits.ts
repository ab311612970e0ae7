/**
 * The context window and the output limit of the models the price table knows, and the check the
 * read makes of each request against them (before anything is sent or paid for).
 *
 * The input's token count is an estimate (estimate-tokens.ts: the fast count runs 0.9–1.6× the
 * exact one, calibrated towards 1×; Claude's tokenizer is not OpenAI's), so a request fails only
 * when it could not fit even if the estimate were twice the real count; between that and the
 * estimate itself it is sent, and `plan` warns about it; a request with images, documents or audio
 * (estimated from their headers by rules that err high: media-tokens.ts) is never failed on its
 * estimate. max_tokens is exact: over the model's output limit the request fails.
 *
 * Where a model's limit depends on a beta header or changed over time, the table holds the larger
 * figure: a request that may fit is never failed (the provider refuses what does not). A spec's
 * `model_limits:` adds models or overrides these.
 */
import type { ModelLimitsEntry } from "../spec/schema.js";
import { billedOnlyMediaTokens } from "./media-tokens.js";
import { modelEntry } from "./pricing.js";

export interface ModelLimits {
  /** tokens of input and output the model can hold together */
  context: number;
  /** the most a request may ask for in max_tokens / max_completion_tokens / max_output_tokens */
  output: number;
  /** the most input tokens, when lower than the context window less the output (gpt-5) */
  input?: number;
  /**
   * the answer stops at the context window (Anthropic's stop_reason model_context_window_exceeded)
   * instead of the request being refused: only the input must fit
   */
  stopsAtWindow?: boolean;
}

/**
 * OpenAI: the models' pages (developers.openai.com/api/docs/models/<model>, "Context window" and
 * "Max output tokens"), as mirrored by third-party tables checked on 2026-12-05; gpt-5's 272,000
 * input tokens are its launch notes' (400,000 less 128,000 of output). Not here: embeddings and
 * moderations, whose limit is per input (8,192 tokens each), not per request.
 *
 * Anthropic: the models overview (platform.claude.com/docs/en/about-claude/models/overview) and
 * "What's new in Claude 4.6", checked on 2026-12-05 against third-party copies. Uncertain, so the
 * larger figure: Sonnet 4 / 4.5's window is 1M with the context-1m-2025-08-07 beta (200K
 * without; the beta was said to retire in 2026); Opus 4.6 and Sonnet 4.6 launched at 200K with 1M
 * in beta, since said to be 1M for all; their output is 128K / 64K, and a third-party report says
 * Message Batches allow 300K with a beta (unconfirmed); Claude 3.7 Sonnet's output is 64K, 128K
 * with the output-128k-2025-02-19 beta. From Sonnet 4.5 on, an answer stops at the window
 * (model_context_window_exceeded) rather than input + max_tokens over it being refused.
 */
export const MODEL_LIMITS: Readonly<Record<string, ModelLimits>> = {
  "gpt-5": { context: 400_000, output: 128_000, input: 272_000 },
  "gpt-5-mini": { context: 400_000, output: 128_000, input: 272_000 },
  "gpt-5-nano": { context: 400_000, output: 128_000, input: 272_000 },
  "gpt-4.1": { context: 1_047_576, output: 32_768 },
  "gpt-4.1-mini": { context: 1_047_576, output: 32_768 },
  "gpt-4.1-nano": { context: 1_047_576, output: 32_768 },
  "gpt-4o": { context: 128_000, output: 16_384 },
  // gpt-4o's first snapshot answered at most 4,096 tokens
  "gpt-4o-2024-05-13": { context: 128_000, output: 4_096 },
  "gpt-4o-mini": { context: 128_000, output: 16_384 },
  o3: { context: 200_000, output: 100_000 },
  "o3-mini": { context: 200_000, output: 100_000 },
  "o4-mini": { context: 200_000, output: 100_000 },
  "claude-opus-4-6": { context: 1_000_000, output: 300_000, stopsAtWindow: true },
  "claude-opus-4-5": { context: 200_000, output: 64_000, stopsAtWindow: true },
  "claude-opus-4-1": { context: 200_000, output: 32_000 },
  "claude-opus-4": { context: 200_000, output: 32_000 },
  "claude-sonnet-4-6": { context: 1_000_000, output: 300_000, stopsAtWindow: true },
  "claude-sonnet-4-5": { context: 1_000_000, output: 64_000, stopsAtWindow: true },
  "claude-sonnet-4": { context: 1_000_000, output: 64_000 },
  "claude-3-7-sonnet": { context: 200_000, output: 128_000 },
  "claude-haiku-4-5": { context: 200_000, output: 64_000, stopsAtWindow: true },
  "claude-3-5-haiku": { context: 200_000, output: 8_192 },
  "claude-3-haiku": { context: 200_000, output: 4_096 },
  "claude-3-opus": { context: 200_000, output: 4_096 },
};

/** how much the input's estimate may overstate it: a request fails only past this many times the window */
export const ESTIMATE_MARGIN = 2;

/**
 * A model's limits (dated snapshots and -latest aliases as their base model), or null: a model the
 * table does not know is not checked.
 */
export function limitsFor(
  model: string,
  table: Readonly<Record<string, ModelLimits>> = MODEL_LIMITS,
): ModelLimits | null {
  return modelEntry(table, model);
}

/** The limits a pipeline uses: the table above, with the spec's `model_limits:` on top. */
export function limitsTableFor(
  specLimits: Readonly<Record<string, ModelLimitsEntry>> | undefined,
): Readonly<Record<string, ModelLimits>> {
  if (!specLimits || Object.keys(specLimits).length === 0) return MODEL_LIMITS;
  const table: Record<string, ModelLimits> = { ...MODEL_LIMITS };
  for (const [model, entry] of Object.entries(specLimits))
    table[model] = { context: entry.context_window, output: entry.max_output_tokens };
  return table;
}

/** limitsFor, remembering the models seen (a dataset's requests share a few; at most 1,000 kept) */
export function limitsLookup(
  table: Readonly<Record<string, ModelLimits>> = MODEL_LIMITS,
): (model: string) => ModelLimits | null {
  const seen = new Map<string, ModelLimits | null>();
  return (model) => {
    let limits = seen.get(model);
    if (limits === undefined) {
      if (seen.size >= 1000) seen.clear();
      limits = limitsFor(model, table);
      seen.set(model, limits);
    }
    return limits;
  };
}

/** What the check found: the request cannot fit (`fail`), or may not (`warn`, it is sent). */
export type LimitProblem = { fail: true; code: string; message: string } | { fail: false; message: string };

/**
 * The request against its model's limits: max_tokens over the output limit, or the estimated input
 * (plus max_tokens, unless the answer stops at the window) over the context window. Undefined when
 * it fits. Per record: property reads and a few comparisons.
 */
export function checkLimits(
  model: string,
  limits: ModelLimits,
  request: { inputTokens: number; body: Record<string, unknown> },
): LimitProblem | undefined {
  const { body } = request;
  // the first cap set counts (as estimateOutputTokens reads them); no closure: this runs per record
  const key =
    body.max_completion_tokens != null
      ? "max_completion_tokens"
      : body.max_tokens != null
        ? "max_tokens"
        : body.max_output_tokens != null
          ? "max_output_tokens"
          : undefined;
  const value = key === undefined ? 0 : body[key];
  const maxTokens = typeof value === "number" && Number.isFinite(value) && value > 0 ? value : 0;
  if (maxTokens > limits.output)
    return {
      fail: true,
      code: "max_tokens_too_large",
      message: `${key} ${maxTokens} is over ${model}'s output limit of ${limits.output}: lower it to ${limits.output} or less, or pick a model with a higher output limit`,
    };
  const room = Math.min(
    limits.input ?? limits.context,
    limits.context - (limits.stopsAtWindow ? 0 : maxTokens),
  );
  let input = request.inputTokens;
  if (input <= room) return undefined;
  // gpt-4o-mini's images are billed ~33× the tokens they take of the window: count what they take
  input -= billedOnlyMediaTokens(body, model);
  if (input <= room) return undefined;
  // the input limit (gpt-5) and a window the answer stops at hold the input alone
  const inputOnly = limits.stopsAtWindow || room === limits.input;
  const asked = inputOnly || maxTokens === 0 ? "" : ` + ${maxTokens} ${key}`;
  const limit =
    room === limits.input ? `input limit of ${limits.input}` : `context window of ${limits.context}`;
  const what = `~${input} input tokens (estimated)${asked}`;
  // images, documents and audio are estimated from their headers by rules that err high (a PDF
  // whose pages are hidden counts one per 32 KB): such a request is never failed on its estimate
  if (input > room * ESTIMATE_MARGIN && !holdsMedia(body))
    return {
      fail: true,
      code: "context_length_exceeded",
      message: `${what} cannot fit ${model}'s ${limit}, even were the estimate twice too high: shorten the input${asked ? `, lower ${key}` : ""} or pick a model with a larger context window`,
    };
  return { fail: false, message: `${what} against ${model}'s ${limit}` };
}

/** a request's caps on its output, in the order checkLimits reads them */
export const OUTPUT_KEYS = ["max_completion_tokens", "max_tokens", "max_output_tokens"] as const;

/** a message or input item of the request holds an image, a document, a file or audio */
function holdsMedia(body: Record<string, unknown>): boolean {
  for (const list of [body.messages, body.input, body.system]) {
    if (!Array.isArray(list)) continue;
    for (const item of list) {
      const content = isObject(item) && Array.isArray(item.content) ? item.content : [item];
      if (content.some((part) => isObject(part) && MEDIA.has(part.type as string))) return true;
    }
  }
  return false;
}

/** the part types of media in OpenAI's and Anthropic's requests */
const MEDIA = new Set([
  "image_url",
  "input_image",
  "image",
  "document",
  "file",
  "input_file",
  "input_audio",
  "audio",
]);

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
