import { createHash } from "node:crypto";
import type { LineStop } from "../options.js";
import type { Ids } from "../random.js";
import { sampleFromSchema } from "./json-schema.js";
import { estimateRequestTokens, estimateTextTokens, inputsOf, textOf } from "./tokens.js";

/** Token usage of one answered request, in the batch-level shape's terms. */
export interface LineUsage {
  input: number;
  output: number;
}

export interface Answer {
  body: Record<string, unknown>;
  usage: LineUsage;
}

export interface ResponderContext {
  ids: Ids;
  /** Unix seconds. */
  now: number;
  /** the model stops before the answer's end (a line rule's `stop`) */
  stop?: LineStop;
}

/** The deterministic fake model behind every endpoint. Unknown endpoints get a minimal echo object. */
export function respond(endpoint: string, body: Record<string, unknown>, ctx: ResponderContext): Answer {
  const model = typeof body.model === "string" ? body.model : "unknown";
  const input = estimateRequestTokens(endpoint, body);
  switch (endpoint) {
    case "/v1/chat/completions": {
      const {
        text: content,
        output,
        cut,
      } = capped(chatContent(body), body.max_completion_tokens ?? body.max_tokens, ctx.stop);
      return {
        usage: { input, output },
        body: {
          id: `chatcmpl-${ctx.ids.hex(24)}`,
          object: "chat.completion",
          created: ctx.now,
          model,
          choices: [
            {
              index: 0,
              message: { role: "assistant", content, refusal: null, annotations: [] },
              logprobs: null,
              finish_reason: cut ?? "stop",
            },
          ],
          usage: {
            prompt_tokens: input,
            completion_tokens: output,
            total_tokens: input + output,
            prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
            completion_tokens_details: {
              reasoning_tokens: 0,
              audio_tokens: 0,
              accepted_prediction_tokens: 0,
              rejected_prediction_tokens: 0,
            },
          },
          service_tier: "default",
          system_fingerprint: "fp_emulator",
        },
      };
    }
    case "/v1/responses": {
      const { text, output, cut } = capped(responsesText(body), body.max_output_tokens, ctx.stop);
      return {
        usage: { input, output },
        body: {
          id: `resp_${ctx.ids.hex(32)}`,
          object: "response",
          created_at: ctx.now,
          status: cut ? "incomplete" : "completed",
          error: null,
          incomplete_details: cut ? { reason: cut === "content_filter" ? cut : "max_output_tokens" } : null,
          model,
          output: [
            {
              type: "message",
              id: `msg_${ctx.ids.hex(32)}`,
              status: cut ? "incomplete" : "completed",
              role: "assistant",
              content: [{ type: "output_text", text, annotations: [] }],
            },
          ],
          output_text: text,
          usage: {
            input_tokens: input,
            input_tokens_details: { cached_tokens: 0 },
            output_tokens: output,
            output_tokens_details: { reasoning_tokens: 0 },
            total_tokens: input + output,
          },
        },
      };
    }
    case "/v1/embeddings": {
      const dims =
        typeof body.dimensions === "number" && body.dimensions > 0 ? Math.floor(body.dimensions) : 1536;
      const base64 = body.encoding_format === "base64";
      const data = inputsOf(body.input).map((item, index) => {
        const vector = unitVector(typeof item === "string" ? item : JSON.stringify(item), dims);
        return {
          object: "embedding",
          index,
          embedding: base64 ? Buffer.from(Float32Array.from(vector).buffer).toString("base64") : vector,
        };
      });
      return {
        usage: { input, output: 0 },
        body: { object: "list", data, model, usage: { prompt_tokens: input, total_tokens: input } },
      };
    }
    case "/v1/completions": {
      const prompt = inputsOf(body.prompt)
        .map((p) => (typeof p === "string" ? p : ""))
        .join("\n");
      const { text, output, cut } = capped(prompt, body.max_tokens, ctx.stop);
      return {
        usage: { input, output },
        body: {
          id: `cmpl-${ctx.ids.hex(24)}`,
          object: "text_completion",
          created: ctx.now,
          model,
          choices: [{ text, index: 0, logprobs: null, finish_reason: cut ?? "stop" }],
          usage: { prompt_tokens: input, completion_tokens: output, total_tokens: input + output },
        },
      };
    }
    case "/v1/moderations": {
      return {
        usage: { input, output: 0 },
        body: {
          id: `modr-${ctx.ids.hex(24)}`,
          model,
          results: inputsOf(body.input).map(() => ({ flagged: false, categories: {}, category_scores: {} })),
        },
      };
    }
    default:
      return { usage: { input, output: 0 }, body: { object: "echo", model, echo: body } };
  }
}

/**
 * The answer as a model given an output cap writes it: past the cap (max_tokens,
 * max_completion_tokens, max_output_tokens) the text is cut at 4 characters a token and the
 * completion tokens are the cap, as OpenAI bills them (finish_reason "length"). A content filter's
 * stop (`stop`) ends it after its first half, before any cap.
 */
export function capped(
  whole: string,
  cap: unknown,
  stop?: LineStop,
): { text: string; output: number; cut: "length" | LineStop | null } {
  const text = stop === "content_filter" ? whole.slice(0, Math.floor(whole.length / 2)) : whole;
  const output = Math.max(1, estimateTextTokens(text));
  if (typeof cap !== "number" || !Number.isInteger(cap) || cap < 1 || output <= cap) {
    return { text, output, cut: stop ?? null };
  }
  return { text: text.slice(0, cap * 4), output: cap, cut: "length" };
}

/** Chat content: JSON for json_schema/json_object formats, else the last user message echoed. */
function chatContent(body: Record<string, unknown>): string {
  const format = body.response_format as Record<string, unknown> | undefined;
  const messages = Array.isArray(body.messages) ? (body.messages as Record<string, unknown>[]) : [];
  const lastUser = [...messages].reverse().find((m) => m?.role === "user") ?? messages[messages.length - 1];
  const echo = textOf(lastUser?.content);
  if (format?.type === "json_schema") {
    const spec = (format.json_schema ?? {}) as Record<string, unknown>;
    return JSON.stringify(sampleFromSchema(spec.schema ?? {}));
  }
  if (format?.type === "json_object") return JSON.stringify({ echo });
  return echo;
}

function responsesText(body: Record<string, unknown>): string {
  const format = ((body.text ?? {}) as Record<string, unknown>).format as Record<string, unknown> | undefined;
  if (format?.type === "json_schema") return JSON.stringify(sampleFromSchema(format.schema ?? {}));
  if (typeof body.input === "string") return body.input;
  if (Array.isArray(body.input)) {
    const items = body.input as Record<string, unknown>[];
    const lastUser = [...items].reverse().find((m) => m?.role === "user") ?? items[items.length - 1];
    return textOf(lastUser?.content);
  }
  return "";
}

/** A deterministic unit vector from a hash of the text. */
function unitVector(text: string, dims: number): number[] {
  let seed = createHash("sha256").update(text).digest().readUInt32BE(0);
  const values = new Array<number>(dims);
  let norm = 0;
  for (let i = 0; i < dims; i++) {
    seed = (seed + 0x6d2b79f5) >>> 0;
    let t = Math.imul(seed ^ (seed >>> 15), seed | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    const v = ((t ^ (t >>> 14)) >>> 0) / 4294967296 - 0.5;
    values[i] = v;
    norm += v * v;
  }
  const scale = 1 / Math.sqrt(norm || 1);
  for (let i = 0; i < dims; i++) values[i] = Math.round(values[i]! * scale * 1e8) / 1e8;
  return values;
}
