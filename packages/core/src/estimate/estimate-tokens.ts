/**
 * Offline input-token estimates for one batch request line. Used for the per-model queue budget
 * (enqueued-token limit) and for cost projections, so it errs on the high side: tools, response
 * formats and media are counted too. Exact mode tokenises with gpt-tokenizer; fast mode is a
 * character heuristic that never tokenises (see bench/estimate-tokens.js for both speeds). Images,
 * files and audio are estimated from their headers in either mode (media-tokens.ts).
 */
import { type EncodingName, encodingForModel, loadEncoding } from "./encoding.js";
import { fastTokenCount, fastTokenKinds, TEXT_KINDS } from "./fast-count.js";
import { mediaPartTokens } from "./media-tokens.js";

export type EstimateMode = "exact" | "fast";

export interface EstimateOptions {
  /**
   * "fast" (default): a tokenizer-free count that errs high (~1.1–1.35× on English), 7–10× faster;
   * "exact": gpt-tokenizer (o200k_base / cl100k_base), for `plan` figures and small runs
   */
  mode?: EstimateMode;
}

/** Per-message framing tokens in chat formats (<|start|>role ... <|end|>), and the reply primer. */
export const CHAT_MESSAGE_OVERHEAD = 3;
export const CHAT_REPLY_PRIMER = 3;
/** The input tokens of one request (`{ url, body }` of a batch input line). */
export function estimateRequestTokens(
  line: { url: string; body: Record<string, unknown> },
  options: EstimateOptions = {},
): number {
  return estimateRequestTokenParts(line, options).total;
}

/**
 * The input tokens of one request, and how many of them are its media's (images, files, audio:
 * counted from their headers, the same in both modes): a calibration of the fast count against the
 * exact one scales only the rest.
 */
export function estimateRequestTokenParts(
  line: { url: string; body: Record<string, unknown> },
  options: EstimateOptions = {},
): { total: number; media: number } {
  const { body } = line;
  const walk: Walk = { model: typeof body.model === "string" ? body.model : undefined, media: 0 };
  const total = requestTokens(line.url, body, counterFor(walk.model, options.mode), walk);
  return { total, media: walk.media };
}

/**
 * The fast count of one request, with its media tokens and its text's tokens by kind (fast-count.ts,
 * TEXT_KINDS): what a calibration scales (calibration.ts). The rest (total − media − Σ kinds: the
 * chat framing, token arrays, rounding) is the same in the exact count. `kinds` is reused by the
 * next call: read it before.
 */
export function estimateRequestTokenKinds(line: { url: string; body: Record<string, unknown> }): {
  total: number;
  media: number;
  kinds: Float64Array;
} {
  const { body } = line;
  const walk: Walk = { model: typeof body.model === "string" ? body.model : undefined, media: 0 };
  REQUEST_KINDS.fill(0);
  const count = encodingOf(walk.model) === "cl100k_base" ? kindsCl100k : kindsO200k;
  const total = requestTokens(line.url, body, count, walk);
  return { total, media: walk.media, kinds: REQUEST_KINDS };
}

const REQUEST_KINDS = new Float64Array(TEXT_KINDS);
const kindsO200k: Count = (text) => fastTokenKinds(text, "o200k_base", REQUEST_KINDS);
const kindsCl100k: Count = (text) => fastTokenKinds(text, "cl100k_base", REQUEST_KINDS);

/** what the walk over a request knows and adds up besides the total */
interface Walk {
  model: string | undefined;
  /** media tokens met so far */
  media: number;
}

function requestTokens(endpoint: string, body: Record<string, unknown>, count: Count, walk: Walk): number {
  const url = endpoint.replace(/^\/v1/, "");
  switch (url) {
    case "/chat/completions":
      return chatTokens(body, count, walk);
    case "/embeddings":
    case "/moderations":
      return inputTokens(body.input, count, walk);
    case "/responses":
      return responsesTokens(body, count, walk);
    case "/completions":
      return inputTokens(body.prompt, count, walk) + extrasTokens(body, count);
    default:
      return count(JSON.stringify(body));
  }
}

/**
 * The output tokens to expect, for cost projections: the request's own cap
 * (max_tokens / max_completion_tokens / max_output_tokens) or a default guess.
 */
export function estimateOutputTokens(
  body: Record<string, unknown>,
  options: { url?: string; defaultOutputTokens?: number } = {},
): number {
  const url = options.url?.replace(/^\/v1/, "");
  if (url === "/embeddings" || url === "/moderations" || producesNoText(body.model)) return 0;
  for (const key of ["max_completion_tokens", "max_tokens", "max_output_tokens"] as const) {
    const value = body[key];
    if (typeof value === "number" && Number.isFinite(value) && value >= 0) {
      return Math.ceil(value) * choices(body);
    }
  }
  return (options.defaultOutputTokens ?? DEFAULT_OUTPUT_TOKENS) * choices(body);
}

/** Assumed completion length when a request sets no cap. */
export const DEFAULT_OUTPUT_TOKENS = 256;

type Count = (text: string) => number;

function counterFor(model: string | undefined, mode: EstimateMode = "fast"): Count {
  const name = encodingOf(model);
  if (mode === "fast") return name === "cl100k_base" ? fastCl100k : fastO200k;
  const encoding = loadEncoding(name);
  return (text) => (text.length === 0 ? 0 : encoding.countTokens(text));
}

const fastO200k: Count = (text) => fastTokenCount(text, "o200k_base");
const fastCl100k: Count = (text) => fastTokenCount(text, "cl100k_base");

/** encodingForModel, remembering the last model (a dataset's requests mostly share one) */
function encodingOf(model: string | undefined): EncodingName {
  if (model !== last.model) last = { model, name: encodingForModel(model) };
  return last.name;
}
let last: { model: string | undefined; name: EncodingName } = {
  model: undefined,
  name: encodingForModel(undefined),
};

function chatTokens(body: Record<string, unknown>, count: Count, walk: Walk): number {
  let total = CHAT_REPLY_PRIMER;
  const messages = Array.isArray(body.messages) ? body.messages : [];
  for (const message of messages) total += messageTokens(message, count, walk);
  // Anthropic's Messages requests hold the system prompt beside the messages (a string or text blocks)
  if (body.system !== undefined) total += contentTokens(body.system, count, walk) + CHAT_MESSAGE_OVERHEAD;
  return total + extrasTokens(body, count);
}

function responsesTokens(body: Record<string, unknown>, count: Count, walk: Walk): number {
  let total = 0;
  if (typeof body.instructions === "string") total += count(body.instructions) + CHAT_MESSAGE_OVERHEAD;
  const input = body.input;
  if (typeof input === "string") {
    total += count(input) + CHAT_MESSAGE_OVERHEAD + CHAT_REPLY_PRIMER;
  } else if (Array.isArray(input)) {
    total += CHAT_REPLY_PRIMER;
    for (const item of input) total += messageTokens(item, count, walk);
  }
  return total + extrasTokens(body, count);
}

function messageTokens(message: unknown, count: Count, walk: Walk): number {
  if (!isObject(message)) return 0;
  let total = CHAT_MESSAGE_OVERHEAD;
  if (typeof message.role === "string") total += count(message.role);
  if (typeof message.name === "string") total += count(message.name) + 1;
  total += contentTokens(message.content, count, walk);
  // function/tool calls and their outputs (chat `tool_calls`, responses `function_call` items)
  if (message.tool_calls !== undefined) total += count(JSON.stringify(message.tool_calls));
  if (typeof message.arguments === "string") total += count(message.arguments);
  if (typeof message.output === "string") total += count(message.output);
  return total;
}

function contentTokens(content: unknown, count: Count, walk: Walk): number {
  if (typeof content === "string") return count(content);
  if (!Array.isArray(content)) return 0;
  let total = 0;
  for (const part of content) {
    if (typeof part === "string") total += count(part);
    else if (isObject(part)) total += partTokens(part, count, walk);
  }
  return total;
}

function partTokens(part: Record<string, unknown>, count: Count, walk: Walk): number {
  if (typeof part.text === "string") return count(part.text);
  // images, documents, files and audio: from their headers, never their base64 as text
  const media = mediaPartTokens(part, walk.model, count);
  if (media !== undefined) {
    walk.media += media;
    return media;
  }
  // Anthropic tool results hold content blocks (text, images) of their own
  if (part.type === "tool_result" && part.content !== undefined)
    return contentTokens(part.content, count, walk);
  // anything else (a file id, an unknown part): its serialised JSON as text (an overestimate)
  return fastTokenCount(JSON.stringify(part));
}

/** Tools, functions and JSON schemas are sent to the model as text and count as input. */
function extrasTokens(body: Record<string, unknown>, count: Count): number {
  let total = 0;
  for (const key of ["tools", "functions", "response_format", "text"] as const) {
    const value = body[key];
    if (value !== undefined && value !== null && typeof value === "object")
      total += count(JSON.stringify(value));
  }
  return total;
}

/** embeddings / moderations `input`, completions `prompt`: a string, strings, or token arrays */
function inputTokens(input: unknown, count: Count, walk: Walk): number {
  if (typeof input === "string") return count(input);
  if (!Array.isArray(input)) return 0;
  if (input.every((x) => typeof x === "number")) return input.length;
  let total = 0;
  for (const item of input) {
    if (typeof item === "string") total += count(item);
    else if (Array.isArray(item)) total += item.length;
    else if (isObject(item)) total += partTokens(item, count, walk);
  }
  return total;
}

function choices(body: Record<string, unknown>): number {
  return typeof body.n === "number" && body.n > 1 ? Math.floor(body.n) : 1;
}

function producesNoText(model: unknown): boolean {
  return typeof model === "string" && (model.includes("embedding") || model.includes("moderation"));
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
