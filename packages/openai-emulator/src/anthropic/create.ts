import type { IncomingMessage } from "node:http";
import { drain, readJson } from "../http/body.js";
import type { ResolvedOptions } from "../options.js";
import { AnthropicError, invalid } from "./errors.js";
import type { BatchRequest } from "./types.js";

const CUSTOM_ID = /^[a-zA-Z0-9_-]{1,64}$/;

/** Read a JSON body of at most `limit` bytes (413 request_too_large past it). */
export async function readBody(req: IncomingMessage, limit: number): Promise<unknown> {
  if (Number(req.headers["content-length"]) > limit) {
    await drain(req);
    throw tooLarge();
  }
  return readJson(req, limit, {
    tooLarge,
    notJson: () => invalid("There was an issue with your request body: it is not valid JSON."),
  });
}

function tooLarge(): AnthropicError {
  return new AnthropicError(413, "Request exceeds the maximum allowed number of bytes.");
}

/**
 * The checks a create answers synchronously, naming the request index (`requests.3.custom_id: …`).
 * A request's `params` are checked only when it runs (an `errored` result), as the API does.
 */
export function checkCreateBody(raw: unknown, options: ResolvedOptions): BatchRequest[] {
  if (!raw || typeof raw !== "object" || Array.isArray(raw))
    throw invalid("Input should be a valid dictionary");
  const requests = (raw as { requests?: unknown }).requests;
  if (requests === undefined) throw invalid("requests: Field required");
  if (!Array.isArray(requests)) throw invalid("requests: Input should be a valid list");
  if (requests.length === 0) {
    throw invalid("requests: List should have at least 1 item after validation, not 0");
  }
  const max = options.anthropicMaxBatchRequests;
  if (requests.length > max) {
    throw invalid(`requests: List should have at most ${max} items after validation, not ${requests.length}`);
  }
  const seen = new Map<string, number>();
  requests.forEach((request: unknown, i) => {
    if (!request || typeof request !== "object" || Array.isArray(request)) {
      throw invalid(`requests.${i}: Input should be a valid dictionary`);
    }
    const { custom_id: customId, params } = request as Record<string, unknown>;
    if (customId === undefined) throw invalid(`requests.${i}.custom_id: Field required`);
    if (typeof customId !== "string")
      throw invalid(`requests.${i}.custom_id: Input should be a valid string`);
    // the length before the pattern, in characters (code points), as the API's validation words it
    const length = [...customId].length;
    if (length === 0) throw invalid(`requests.${i}.custom_id: String should have at least 1 character`);
    if (length > 64) throw invalid(`requests.${i}.custom_id: String should have at most 64 characters`);
    if (!CUSTOM_ID.test(customId)) {
      throw invalid(`requests.${i}.custom_id: String should match pattern '^[a-zA-Z0-9_-]{1,64}$'`);
    }
    const first = seen.get(customId);
    if (first !== undefined) {
      throw invalid(
        `requests.${i}.custom_id: Duplicate custom_id '${customId}' (also requests.${first}.custom_id); custom_id must be unique within a batch.`,
      );
    }
    seen.set(customId, i);
    if (params === undefined) throw invalid(`requests.${i}.params: Field required`);
    if (!params || typeof params !== "object" || Array.isArray(params)) {
      throw invalid(`requests.${i}.params: Input should be a valid dictionary`);
    }
  });
  return requests as BatchRequest[];
}
