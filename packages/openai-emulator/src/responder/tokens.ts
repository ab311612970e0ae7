/**
 * The emulator's token estimator (cheap, deterministic, documented in README.md):
 * ceil(characters / 4) of every text, media by batchpipe's rules (media-tokens.ts: a fixed figure
 * per image, PDFs by their pages, audio by its duration), plus 4 tokens per chat message and 3 per
 * request. It drives the enqueued-token queue and the `usage` of every response.
 */
import { mediaTokens } from "./media-tokens.js";

export function estimateTextTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

const PER_MESSAGE = 4;
const PER_REQUEST = 3;

/** Estimated input tokens of one request body for `endpoint`. */
export function estimateRequestTokens(endpoint: string, body: Record<string, unknown>): number {
  const model = typeof body.model === "string" ? body.model : undefined;
  switch (endpoint) {
    case "/v1/chat/completions":
      return PER_REQUEST + messagesTokens(body.messages, model);
    case "/v1/responses":
      return (
        PER_REQUEST +
        (typeof body.instructions === "string" ? estimateTextTokens(body.instructions) : 0) +
        (Array.isArray(body.input)
          ? messagesTokens(body.input, model)
          : estimateTextTokens(textOf(body.input)))
      );
    case "/v1/embeddings":
      return inputsOf(body.input).reduce<number>((sum, input) => sum + inputTokens(input), 0);
    case "/v1/completions":
      return PER_REQUEST + inputsOf(body.prompt).reduce<number>((sum, input) => sum + inputTokens(input), 0);
    default:
      return PER_REQUEST + estimateTextTokens(textOf(body.input ?? body.prompt ?? ""));
  }
}

/** Embedding/completion inputs: a string, a token array, or an array of either. */
export function inputsOf(input: unknown): unknown[] {
  if (input === undefined || input === null) return [];
  if (typeof input === "string") return [input];
  if (Array.isArray(input)) {
    if (input.length > 0 && input.every((x) => typeof x === "number")) return [input];
    return input;
  }
  return [input];
}

/** The plain text of a message content (a string or an array of parts). */
export function textOf(content: unknown): string {
  if (typeof content === "string") return content;
  if (Array.isArray(content)) {
    return content
      .map((part) => {
        if (typeof part === "string") return part;
        if (part && typeof part === "object") {
          const p = part as Record<string, unknown>;
          if (typeof p.text === "string") return p.text;
          if (p.content !== undefined) return textOf(p.content);
        }
        return "";
      })
      .join("");
  }
  return "";
}

function inputTokens(input: unknown): number {
  if (Array.isArray(input)) return input.length; // already tokens
  return estimateTextTokens(textOf(input));
}

function messagesTokens(messages: unknown, model: string | undefined): number {
  if (!Array.isArray(messages)) return 0;
  let sum = 0;
  for (const message of messages) {
    const m = (message ?? {}) as Record<string, unknown>;
    sum += PER_MESSAGE + contentTokens(m.content, model);
  }
  return sum;
}

/** The input tokens of a content: its text and its media (images, files, audio). */
export function contentTokens(content: unknown, model: string | undefined): number {
  return estimateTextTokens(textOf(content)) + mediaTokens(content, model);
}
