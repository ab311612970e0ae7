/**
 * Records nested too deeply for JSON.stringify, which recurses (on Node 20's default stack it gives
 * up past ~4,000 levels of arrays; JSON.parse does not): such a record fails as `invalid_input`
 * instead of crashing the run. The read serialises each record's data once, before anything else
 * (`recordJson`), and every later step (the shard's meta line, an identical request's row, a failure
 * row) splices that text in instead of serialising the data again (`withInput`, codecs/shard-meta.ts).
 */
import type { InvalidRecord, RequestLine, SourceRecord } from "../../plugin.js";
import type { EnginePipeline } from "../types.js";
import { RequestIndex } from "./id-index.js";

/** the record's data as JSON, or undefined when it is nested too deeply to serialise */
export function recordJson(data: Record<string, unknown>): string | undefined {
  try {
    return JSON.stringify(data);
  } catch (error) {
    if (isStackOverflow(error)) return undefined;
    throw error;
  }
}

export function isStackOverflow(error: unknown): boolean {
  return error instanceof RangeError && /call stack/i.test(error.message);
}

/** the invalid record of a record nested too deeply (`what`: the record, or the request built from it) */
export function tooDeep(record: SourceRecord, what = "the record"): InvalidRecord {
  const { file, line } = record.position;
  const message = `${file}:${line}: ${what} is nested too deeply to serialise as JSON (thousands of levels of lists or objects); flatten that value or leave it out of the record`;
  return { invalid: { code: "invalid_input", message }, position: record.position, cursor: record.cursor };
}

/** the provider's line of a request and the request's digest; undefined when its body is nested too deeply */
export function encodeRequest(
  provider: EnginePipeline["provider"],
  request: RequestLine,
):
  | { line: string; model: string; json: boolean; inputs: number; digest: [number, number, number] }
  | undefined {
  try {
    const { line, model, json, inputs = 1 } = provider.plugin.encode(request, provider.options);
    return {
      line,
      model,
      json,
      inputs,
      digest: RequestIndex.digest(request.url, JSON.stringify(request.body)),
    };
  } catch (error) {
    if (isStackOverflow(error)) return undefined;
    throw error;
  }
}
