/**
 * OpenAI's batch line formats, without I/O: a request as an input-file line, and a result line
 * (output or error file) judged on its own (reference §3.2): success ⇔ response.status_code is 2xx
 * and error is null, whichever file it came from. Failures say whether a new attempt can help.
 */
import type {
  CutReason,
  EncodedRequest,
  OutputRequest,
  OutputResult,
  RequestLine,
  Usage,
} from "@batchpipe/core/plugin";

export type LineOutcome =
  | { kind: "success"; body: Record<string, unknown> }
  | { kind: "failure"; code: string; message: string; statusCode: number | null; retryable: boolean };

/** Never-run or transient: a new attempt can succeed. */
export const RETRYABLE_CODES: ReadonlySet<string> = new Set([
  "batch_expired",
  "batch_cancelled",
  "request_timeout",
  "batch_missing",
  "missing_result",
  "server_error",
  "rate_limit_exceeded",
]);

/** One line of the batch input file; `method` is always POST. */
export function encodeRequest(request: RequestLine): EncodedRequest {
  const { custom_id, url, body } = request;
  return {
    line: `{"custom_id":${JSON.stringify(custom_id)},"method":"POST","url":${JSON.stringify(url)},"body":${JSON.stringify(body)}}`,
    model: typeof body.model === "string" ? body.model : "",
    json: wantsJson(body),
    inputs: url === "/v1/embeddings" ? embeddingInputs(body.input) : 1,
  };
}

/** what an embeddings request counts toward OpenAI's 50,000 inputs per batch: an array's items (one array of token ids is one input) */
function embeddingInputs(input: unknown): number {
  if (!Array.isArray(input) || input.length === 0) return 1;
  return typeof input[0] === "number" ? 1 : input.length;
}

/** null when the line is not a result line at all */
export function classifyLine(line: Record<string, unknown>): LineOutcome | null {
  const error = line.error;
  const response = isObject(line.response) ? line.response : null;
  const status = response && typeof response.status_code === "number" ? response.status_code : null;
  if (isObject(error)) {
    const code = typeof error.code === "string" && error.code ? error.code : "unknown_error";
    return {
      kind: "failure",
      code,
      message: typeof error.message === "string" ? error.message : code,
      statusCode: status,
      retryable: RETRYABLE_CODES.has(code) || (status !== null && retryableStatus(status)),
    };
  }
  if (status === null) return null;
  const body = isObject(response?.body) ? response.body : {};
  if (status >= 200 && status < 300) return { kind: "success", body };
  const err = isObject(body.error) ? body.error : {};
  const code =
    (typeof err.code === "string" && err.code) ||
    (typeof err.type === "string" && err.type) ||
    `http_${status}`;
  return {
    kind: "failure",
    code,
    message: typeof err.message === "string" ? err.message : `HTTP ${status}`,
    statusCode: status,
    retryable: retryableStatus(status) || RETRYABLE_CODES.has(code),
  };
}

function retryableStatus(status: number): boolean {
  return status === 408 || status === 409 || status === 429 || status >= 500 || status === 0;
}

/** The convenient part of a response body, per endpoint (DESIGN §1). */
export function extractOutput(body: Record<string, unknown>, request: OutputRequest): OutputResult {
  const url = request.endpoint.replace(/^\/v1/, "");
  let text: unknown;
  let cut: CutReason | undefined;
  if (url === "/chat/completions") {
    const choices = Array.isArray(body.choices) ? body.choices : [];
    const message = isObject(choices[0]) && isObject(choices[0].message) ? choices[0].message : undefined;
    text = message?.content ?? null;
    cut = isObject(choices[0]) ? finishCut(choices[0].finish_reason) : undefined;
  } else if (url === "/embeddings") {
    const data = Array.isArray(body.data) ? body.data : [];
    const vectors = data.map((d) => (isObject(d) ? d.embedding : undefined));
    return { ok: true, output: vectors.length === 1 ? vectors[0] : vectors };
  } else if (url === "/responses") {
    text = typeof body.output_text === "string" ? body.output_text : responsesText(body.output);
    cut = responsesCut(body);
  } else if (url === "/completions") {
    const choices = Array.isArray(body.choices) ? body.choices : [];
    text = isObject(choices[0]) ? (choices[0].text ?? null) : null;
    cut = isObject(choices[0]) ? finishCut(choices[0].finish_reason) : undefined;
  } else {
    return { ok: true, output: body };
  }
  if (request.json && typeof text === "string") {
    try {
      return cut ? { ok: true, output: JSON.parse(text), cut } : { ok: true, output: JSON.parse(text) };
    } catch (error) {
      return {
        ok: false,
        message: `the model's output is not valid JSON${cutNote(cut)}: ${(error as Error).message}`,
      };
    }
  }
  return cut ? { ok: true, output: text, cut } : { ok: true, output: text };
}

/** why a JSON output that does not parse may be partial */
function cutNote(cut: CutReason | undefined): string {
  if (cut === "max_tokens") return " (the answer was cut short at max_tokens: raise it)";
  if (cut === "content_filter") return " (the answer was stopped by the provider's content filter)";
  return "";
}

/** chat and completions: finish_reason "length" (max_tokens or max_completion_tokens reached) or "content_filter" */
function finishCut(reason: unknown): CutReason | undefined {
  if (reason === "length") return "max_tokens";
  if (reason === "content_filter") return "content_filter";
  return undefined;
}

/** the Responses API: status "incomplete" with incomplete_details.reason max_output_tokens or content_filter */
function responsesCut(body: Record<string, unknown>): CutReason | undefined {
  if (body.status !== "incomplete") return undefined;
  const reason = isObject(body.incomplete_details) ? body.incomplete_details.reason : undefined;
  // the documented reasons are max_output_tokens and content_filter: an incomplete answer is cut either way
  return reason === "content_filter" ? "content_filter" : "max_tokens";
}

/** Whether a request asked for JSON output (chat response_format, responses text.format). */
export function wantsJson(body: Record<string, unknown>): boolean {
  const format = isObject(body.response_format)
    ? body.response_format
    : isObject(body.text) && isObject(body.text.format)
      ? body.text.format
      : undefined;
  return format?.type === "json_schema" || format?.type === "json_object";
}

export function toUsage(raw: unknown): Usage | null {
  if (!isObject(raw)) return null;
  const input = num(raw.prompt_tokens) ?? num(raw.input_tokens) ?? 0;
  const output = num(raw.completion_tokens) ?? num(raw.output_tokens) ?? 0;
  const usage: Usage = {
    input_tokens: input,
    output_tokens: output,
    total_tokens: num(raw.total_tokens) ?? input + output,
  };
  const inDetails = isObject(raw.prompt_tokens_details)
    ? raw.prompt_tokens_details
    : raw.input_tokens_details;
  const outDetails = isObject(raw.completion_tokens_details)
    ? raw.completion_tokens_details
    : raw.output_tokens_details;
  const cached = isObject(inDetails) ? num(inDetails.cached_tokens) : undefined;
  const reasoning = isObject(outDetails) ? num(outDetails.reasoning_tokens) : undefined;
  if (cached !== undefined) usage.cached_tokens = cached;
  if (reasoning !== undefined) usage.reasoning_tokens = reasoning;
  return usage;
}

function responsesText(output: unknown): string | null {
  if (!Array.isArray(output)) return null;
  const parts: string[] = [];
  for (const item of output) {
    if (!isObject(item) || !Array.isArray(item.content)) continue;
    for (const part of item.content) {
      if (isObject(part) && part.type === "output_text" && typeof part.text === "string")
        parts.push(part.text);
    }
  }
  return parts.length > 0 ? parts.join("") : null;
}

function num(value: unknown): number | undefined {
  return typeof value === "number" && Number.isFinite(value) ? value : undefined;
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
