/**
 * The deterministic fake Claude behind Anthropic's batches and POST /v1/messages, built on the
 * OpenAI responder's parts: the last user text echoed, a sample of the schema for JSON output
 * (`output_config.format`) or a forced tool, and usage from the same token estimator.
 */
import { createHash } from "node:crypto";
import { isKnownModel } from "../context.js";
import type { LineStop } from "../options.js";
import { capped } from "../responder/index.js";
import { sampleFromSchema } from "../responder/json-schema.js";
import { contentTokens, estimateRequestTokens, estimateTextTokens, textOf } from "../responder/tokens.js";
import type { AnthropicIds } from "./ids.js";

export interface AnthropicAnswer {
  message: Record<string, unknown>;
  usage: { input: number; output: number };
}

/** An error a request's params earn (as the API answers it), or undefined when they are valid. */
export interface ParamsError {
  status: number;
  type: string;
  message: string;
}

type Params = Record<string, unknown>;

/** Check a Messages request the way the API does (in a batch: when the request runs, not at create). */
export function checkParams(
  params: Params,
  models: readonly string[],
  inBatch: boolean,
): ParamsError | undefined {
  const bad = (message: string): ParamsError => ({ status: 400, type: "invalid_request_error", message });
  if (params.model === undefined) return bad("model: Field required");
  if (typeof params.model !== "string") return bad("model: Input should be a valid string");
  if (params.max_tokens === undefined) return bad("max_tokens: Field required");
  if (!Number.isInteger(params.max_tokens)) return bad("max_tokens: Input should be a valid integer");
  const min = inBatch ? 1 : 0;
  if ((params.max_tokens as number) < min)
    return bad(`max_tokens: Input should be greater than or equal to ${min}`);
  if (params.messages === undefined) return bad("messages: Field required");
  if (!Array.isArray(params.messages)) return bad("messages: Input should be a valid list");
  if (params.messages.length === 0) return bad("messages: at least one message is required");
  for (const [i, m] of (params.messages as unknown[]).entries()) {
    const role = (m as Params | null)?.role;
    if (role !== "user" && role !== "assistant") {
      return bad(`messages.${i}.role: Input should be 'user' or 'assistant'`);
    }
    if ((m as Params).content === undefined) return bad(`messages.${i}.content: Field required`);
  }
  if (inBatch && params.stream === true)
    return bad("stream: streaming is not supported in the Message Batches API");
  // the API answers an unknown model with not_found_error, not invalid_request_error
  if (!isKnownModel(models, params.model))
    return { status: 404, type: "not_found_error", message: `model: ${params.model}` };
  return undefined;
}

export function estimateMessageTokens(params: Params): number {
  const tools = Array.isArray(params.tools) ? estimateTextTokens(JSON.stringify(params.tools)) : 0;
  return (
    estimateRequestTokens("/v1/chat/completions", { model: params.model, messages: params.messages }) +
    estimateTextTokens(textOf(params.system)) +
    tools
  );
}

/**
 * Prompt caching, simplified: the prompt up to its last `cache_control` breakpoint (tools, then
 * system, then messages; a top-level `cache_control` marks the end) is written to the cache the
 * first time it is seen and read from it every later time, whatever its length.
 */
function cachedPrefix(params: Params): { key: string; tokens: number; ttl: string } | undefined {
  const pieces: { json: string; tokens: number; ttl: string | undefined }[] = [];
  const add = (part: unknown, tokens: number) => {
    const control = (part as Params | null)?.cache_control as Params | undefined;
    const ttl = control ? String(control.ttl ?? "5m") : undefined;
    pieces.push({ json: JSON.stringify(part), tokens, ttl });
  };
  const model = String(params.model);
  for (const tool of Array.isArray(params.tools) ? params.tools : [])
    add(tool, estimateTextTokens(JSON.stringify(tool)));
  const blocks = (content: unknown) => (Array.isArray(content) ? content : [content]);
  for (const block of blocks(params.system ?? [])) add(block, contentTokens([block], model));
  for (const message of params.messages as Params[]) {
    for (const block of blocks(message.content)) add(block, contentTokens([block], model));
  }
  let last = -1;
  pieces.forEach((p, i) => {
    if (p.ttl) last = i;
  });
  let ttl = last >= 0 ? pieces[last]?.ttl : undefined;
  const top = params.cache_control as Params | undefined;
  if (top && typeof top === "object") {
    last = pieces.length - 1;
    ttl = String(top.ttl ?? "5m");
  }
  if (last < 0 || ttl === undefined) return undefined;
  const prefix = pieces.slice(0, last + 1);
  const hash = createHash("sha256").update(String(params.model));
  for (const p of prefix) hash.update(p.json);
  return { key: hash.digest("hex"), tokens: prefix.reduce((sum, p) => sum + p.tokens, 0), ttl };
}

/** A Messages API `message` for valid params; `stop`: the model stops before the answer's end (a line rule's) */
export function respondMessage(
  params: Params,
  ids: AnthropicIds,
  serviceTier: "batch" | "standard",
  cache: Set<string>,
  stop?: LineStop,
): AnthropicAnswer {
  const model = String(params.model);
  const total = estimateMessageTokens(params);
  const prefix = cachedPrefix(params);
  const cached = prefix ? Math.min(prefix.tokens, total) : 0;
  const hit = prefix !== undefined && cache.has(prefix.key);
  if (prefix) cache.add(prefix.key);
  const written = prefix && !hit ? cached : 0;
  const input = total - cached;
  const maxTokens = typeof params.max_tokens === "number" ? params.max_tokens : 1;
  let content: Record<string, unknown>[];
  let stopReason = "end_turn";
  let output: number;
  const tool = forcedTool(params);
  if (tool) {
    const toolInput = sampleFromSchema(tool.input_schema ?? {});
    content = [{ type: "tool_use", id: ids.toolUse(), name: tool.name, input: toolInput }];
    stopReason = "tool_use";
    output = Math.max(1, estimateTextTokens(JSON.stringify(toolInput)));
  } else {
    // cut like a model that ran out of max_tokens, or that the filter stopped (Anthropic: a refusal)
    const answer = capped(textAnswer(params), maxTokens, stop);
    output = answer.output;
    if (answer.cut === "length") stopReason = "max_tokens";
    if (answer.cut === "content_filter") stopReason = "refusal";
    content = [{ type: "text", text: answer.text }];
  }
  return {
    usage: { input, output },
    message: {
      id: ids.message(),
      type: "message",
      role: "assistant",
      model,
      content,
      stop_reason: stopReason,
      stop_sequence: null,
      usage: {
        input_tokens: input,
        cache_creation_input_tokens: written,
        cache_read_input_tokens: hit ? cached : 0,
        cache_creation: {
          ephemeral_5m_input_tokens: prefix?.ttl === "1h" ? 0 : written,
          ephemeral_1h_input_tokens: prefix?.ttl === "1h" ? written : 0,
        },
        output_tokens: output,
        service_tier: serviceTier,
      },
    },
  };
}

/** JSON for `output_config.format` / `output_format` `{type: "json_schema"}`, else the last user message echoed. */
function textAnswer(params: Params): string {
  // output_config.format (GA), or the structured-outputs beta's output_format
  const format = ((params.output_config as Params | undefined)?.format ?? params.output_format) as
    | Params
    | undefined;
  if (format?.type === "json_schema") return JSON.stringify(sampleFromSchema(format.schema ?? {}));
  const messages = params.messages as Params[];
  const lastUser = [...messages].reverse().find((m) => m.role === "user") ?? messages[messages.length - 1];
  return textOf(lastUser?.content);
}

/** The tool `tool_choice: {type: "tool", name}` forces, if it is among `tools`. */
function forcedTool(params: Params): { name: string; input_schema?: unknown } | undefined {
  const choice = params.tool_choice as Params | undefined;
  if (choice?.type !== "tool" || !Array.isArray(params.tools)) return undefined;
  return (params.tools as { name: string; input_schema?: unknown }[]).find((t) => t?.name === choice.name);
}
