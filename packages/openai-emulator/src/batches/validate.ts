import { readLines } from "../lines.js";
import { estimateRequestTokens, inputsOf } from "../responder/tokens.js";
import type { BatchError } from "./types.js";

export interface ScanOptions {
  endpoint: string;
  /** Stops the scan early (the result is then incomplete and must be discarded). */
  signal?: AbortSignal;
  isKnownModel(model: string): boolean;
}

export interface ScanResult {
  /** One error per bad line, 1-based line numbers. */
  errors: BatchError[];
  /** Request lines (blank lines are skipped). */
  lines: number;
  /** The first line's model. */
  model: string | null;
  tokens: number;
  embeddingInputs: number;
}

const ENDPOINT_NAMES: Record<string, string> = {
  "/v1/chat/completions": "Chat Completions",
  "/v1/completions": "Completions",
  "/v1/responses": "Responses",
  "/v1/embeddings": "Embeddings",
  "/v1/moderations": "Moderations",
};

/** The body field each endpoint requires besides `model`. */
const REQUIRED_INPUT: Record<string, string> = {
  "/v1/chat/completions": "messages",
  "/v1/completions": "prompt",
  "/v1/responses": "input",
  "/v1/embeddings": "input",
  "/v1/moderations": "input",
};

/** Stream an input file and check every line the way the Batch API's `validating` phase does. */
export async function scanInput(filePath: string, options: ScanOptions): Promise<ScanResult> {
  const result: ScanResult = { errors: [], lines: 0, model: null, tokens: 0, embeddingInputs: 0 };
  const seen = new Set<string>();
  for await (const { line, lineNo } of readLines(filePath)) {
    if (options.signal?.aborted) break;
    if (line.trim() === "") continue;
    result.lines++;
    const error = checkLine(line, lineNo, options, result, seen);
    if (error) result.errors.push(error);
  }
  return result;
}

/** The first line's model, read without scanning the whole file. */
export async function firstModel(filePath: string): Promise<string | null> {
  for await (const { line } of readLines(filePath)) {
    if (line.trim() === "") continue;
    try {
      const model = JSON.parse(line)?.body?.model;
      return typeof model === "string" ? model : null;
    } catch {
      return null;
    }
  }
  return null;
}

function checkLine(
  line: string,
  lineNo: number,
  options: ScanOptions,
  result: ScanResult,
  seen: Set<string>,
): BatchError | undefined {
  const fail = (code: string, param: string | null, message: string): BatchError => ({
    code,
    line: lineNo,
    message,
    param,
  });
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    return fail("invalid_json_line", null, "This line is not parseable as valid JSON.");
  }
  if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) {
    return fail("invalid_json_line", null, "This line is not parseable as valid JSON.");
  }
  const request = parsed as Record<string, unknown>;
  for (const key of ["custom_id", "method", "url", "body"]) {
    if (request[key] === undefined || request[key] === null) {
      return fail("missing_required_parameter", key, `Missing required parameter: '${key}'.`);
    }
  }
  const customId = request.custom_id;
  if (typeof customId !== "string") {
    return fail("invalid_request", "custom_id", "The custom_id must be a string.");
  }
  if (request.method !== "POST") {
    return fail(
      "invalid_method",
      "method",
      `Invalid method '${String(request.method)}'. Only POST is supported in the Batch API.`,
    );
  }
  if (request.url !== options.endpoint) {
    return fail("invalid_url", "url", "The URL provided for this request does not match the batch endpoint.");
  }
  const body = request.body;
  if (typeof body !== "object" || Array.isArray(body)) {
    return fail("invalid_request", "body", "The body must be a JSON object.");
  }
  const b = body as Record<string, unknown>;
  if (b.stream === true) {
    const name = ENDPOINT_NAMES[options.endpoint] ?? "This endpoint";
    return fail(
      "streaming_unsupported",
      "body.stream",
      `${name}: Streaming is not supported in the Batch API.`,
    );
  }
  if (typeof b.model !== "string" || b.model === "") {
    return fail("invalid_request", "body.model", "Model parameter is required.");
  }
  if (!options.isKnownModel(b.model)) {
    return fail(
      "model_not_found",
      "body.model",
      `The provided model '${b.model}' is not supported by the Batch API.`,
    );
  }
  const required = REQUIRED_INPUT[options.endpoint];
  if (required && (b[required] === undefined || b[required] === null)) {
    const label = required[0]!.toUpperCase() + required.slice(1);
    return fail("invalid_request", `body.${required}`, `${label} parameter is required.`);
  }
  if (result.model === null) {
    result.model = b.model;
  } else if (b.model !== result.model) {
    return fail(
      "model_mismatch",
      "body.model",
      `The model '${b.model}' does not match the model '${result.model}' of the other requests. A batch can only use one model.`,
    );
  }
  if (seen.has(customId)) {
    return fail(
      "duplicate_custom_id",
      "custom_id",
      `The custom_id '${customId}' is duplicated in the batch input file.`,
    );
  }
  seen.add(customId);
  result.tokens += estimateRequestTokens(options.endpoint, b);
  if (options.endpoint === "/v1/embeddings") result.embeddingInputs += inputsOf(b.input).length;
  return undefined;
}
