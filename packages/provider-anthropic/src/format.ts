/**
 * Anthropic's formats, without I/O: a request as a shard line (`{custom_id, params}`, the record's
 * own id until the create replaces it), the convenient output of a message, its usage, and one
 * line of a batch's results.
 */
import type {
  CutReason,
  EncodedRequest,
  OutputRequest,
  OutputResult,
  RequestLine,
  ResultItem,
  Usage,
} from "@batchpipe/core/plugin";
import { parseCustomId } from "./ids.js";

/** HTTP statuses of Anthropic's error types, for failure rows */
const STATUS_OF: Record<string, number> = {
  invalid_request_error: 400,
  authentication_error: 401,
  billing_error: 402,
  permission_error: 403,
  not_found_error: 404,
  request_too_large: 413,
  rate_limit_error: 429,
  api_error: 500,
  timeout_error: 504,
  overloaded_error: 529,
};

/**
 * the error types a new attempt of the same request cannot fix (the request, or what the account may
 * use, must change): a model Anthropic does not have is a not_found_error
 */
export const FINAL_ERRORS: ReadonlySet<string> = new Set([
  "invalid_request_error",
  "not_found_error",
  "permission_error",
  "request_too_large",
]);

/** One shard line: the transform's body is the Messages request (`endpoint` does not apply). */
export function encodeRequest(request: RequestLine): EncodedRequest {
  const { custom_id, body } = request;
  return {
    line: `{"custom_id":${JSON.stringify(custom_id)},"params":${JSON.stringify(body)}}`,
    model: typeof body.model === "string" ? body.model : "",
    json: wantsJson(body),
  };
}

/**
 * The request asks for JSON output the two ways Anthropic supports: structured outputs
 * (`output_config.format`, or the beta's `output_format`, of type json_schema: the text is JSON)
 * or a forced tool
 * (`tool_choice: { type: "tool" }`, the tool call's input is the object).
 */
export function wantsJson(body: Record<string, unknown>): boolean {
  // structured outputs: output_config.format (GA), or the beta's output_format
  const config = isObject(body.output_config) ? body.output_config : undefined;
  const format = isObject(config?.format)
    ? config.format
    : isObject(body.output_format)
      ? body.output_format
      : undefined;
  const choice = isObject(body.tool_choice) ? body.tool_choice : undefined;
  return format?.type === "json_schema" || choice?.type === "tool";
}

/**
 * The text of the message's text blocks; for a JSON request, the forced tool call's input, else
 * the text parsed as JSON.
 */
export function extractOutput(message: Record<string, unknown>, request: OutputRequest): OutputResult {
  const blocks = Array.isArray(message.content) ? message.content.filter(isObject) : [];
  const cut = stopCut(message.stop_reason);
  let output: unknown;
  const call = request.json ? blocks.find((b) => b.type === "tool_use") : undefined;
  if (call) output = call.input ?? null;
  else {
    const texts = blocks.filter((b) => b.type === "text" && typeof b.text === "string").map((b) => b.text);
    output = texts.length > 0 ? texts.join("") : null;
    if (request.json && output !== null) {
      try {
        output = JSON.parse(output as string);
      } catch (error) {
        const note =
          message.stop_reason === "model_context_window_exceeded"
            ? " (the answer was cut short at the model's context window: shorten the input or pick a model with a larger window; raising max_tokens cannot help)"
            : cut === "max_tokens"
              ? " (the answer was cut short at max_tokens: raise it)"
              : cut === "content_filter"
                ? " (the model refused: stop_reason refusal)"
                : "";
        return {
          ok: false,
          message: `the model's output is not valid JSON${note}: ${(error as Error).message}`,
        };
      }
    }
  }
  return cut ? { ok: true, output, cut } : { ok: true, output };
}

/**
 * An answer the model did not finish: stop_reason "max_tokens" (or "model_context_window_exceeded":
 * the context window left less room than max_tokens, counted with them; its hint differs, above),
 * or "refusal" (its safety filter stopped it).
 */
function stopCut(reason: unknown): CutReason | undefined {
  if (reason === "max_tokens" || reason === "model_context_window_exceeded") return "max_tokens";
  if (reason === "refusal") return "content_filter";
  return undefined;
}

/**
 * Anthropic's usage in the engine's terms: input_tokens counts every input token (as OpenAI's
 * does), the cache reads and writes among them are cached_tokens and cache_creation_tokens, and
 * the writes for an hour among those cache_creation_1h_tokens.
 * Anthropic's own figures stay in the response's usage.
 */
export function toUsage(raw: unknown): Usage | null {
  if (!isObject(raw)) return null;
  const fresh = num(raw.input_tokens);
  const read = num(raw.cache_read_input_tokens);
  const written = num(raw.cache_creation_input_tokens);
  const output = num(raw.output_tokens);
  const input = fresh + read + written;
  const usage: Usage = {
    input_tokens: input,
    output_tokens: output,
    total_tokens: input + output,
    cached_tokens: read,
    cache_creation_tokens: written,
  };
  // writes for an hour cost more than 5-minute ones: named when there are any
  const hour = isObject(raw.cache_creation)
    ? Math.min(num(raw.cache_creation.ephemeral_1h_input_tokens), written)
    : 0;
  if (hour > 0) usage.cache_creation_1h_tokens = hour;
  return usage;
}

/**
 * One line of a batch's results. `tagId`: the submission the batch belongs to; a line with another
 * tag (a batch adopted by its shape that was not ours) is unreadable, never another request's.
 */
export function toResultItem(line: unknown, tagId: string, where: string): ResultItem {
  if (!isObject(line) || typeof line.custom_id !== "string" || !isObject(line.result))
    return { kind: "unreadable", reason: `${where} is not a result line` };
  const id = line.custom_id;
  const parsed = parseCustomId(id);
  if (!parsed || parsed.tagId !== tagId)
    return { kind: "unreadable", reason: `${where}: custom_id ${id} is not one this submission sent` };
  const index = parsed.line;
  const result = line.result;
  switch (result.type) {
    case "succeeded": {
      const message = isObject(result.message) ? result.message : {};
      const model = typeof message.model === "string" ? message.model : null;
      return { kind: "success", id, index, response: message, usage: toUsage(message.usage), model };
    }
    case "errored": {
      // result.error is an ErrorResponse: { type: "error", error: { type, message } }
      const outer = isObject(result.error) ? result.error : {};
      const inner = isObject(outer.error) ? outer.error : outer;
      const code = typeof inner.type === "string" && inner.type !== "error" ? inner.type : "api_error";
      const message = typeof inner.message === "string" ? inner.message : code;
      return {
        kind: "failure",
        id,
        index,
        error: { code, message, status_code: STATUS_OF[code] ?? null },
        retryable: !FINAL_ERRORS.has(code),
      };
    }
    case "canceled":
      return failure(id, index, "batch_cancelled", "the batch was cancelled before the request was executed");
    case "expired":
      return failure(id, index, "batch_expired", "the request was not executed before the batch expired");
    default:
      return { kind: "unreadable", reason: `${where} (${id}) has an unknown result type` };
  }
}

function failure(id: string, index: number, code: string, message: string): ResultItem {
  return { kind: "failure", id, index, error: { code, message, status_code: null }, retryable: true };
}

function num(value: unknown): number {
  return typeof value === "number" && Number.isFinite(value) ? value : 0;
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
