/**
 * Shard request lines: the lines of a batch input file, uploaded as written. OpenAI's format,
 * `{"custom_id":…,"method":"POST","url":…,"body":…}`, one request per line.
 *
 * The read phase serialises each body once and hands the text over: the same text is what
 * recognises identical requests, and the line embeds it byte for byte (the dataset fingerprint
 * hashes these lines). A provider with another encoding supplies another RequestLineCodec.
 */

/** A request as it goes into a shard. */
export interface ShardRequest {
  custom_id: string;
  url: string;
  /** the body's JSON text */
  body: string;
}

/** How requests become lines of a shard file, and back (to continue an interrupted read). */
export interface RequestLineCodec {
  /** the line without its newline */
  encode(request: ShardRequest): string;
  /** the request a line was encoded from; throws when the line is not one of this codec's */
  decode(line: string): ShardRequest;
}

export function encodeRequestLine(request: ShardRequest): string {
  return `${linePrefix(request.custom_id, request.url)}${request.body}}`;
}

export function decodeRequestLine(line: string): ShardRequest {
  const { custom_id, url } = JSON.parse(line) as { custom_id?: unknown; url?: unknown };
  if (typeof custom_id === "string" && typeof url === "string") {
    const prefix = linePrefix(custom_id, url);
    // the body as written, not as JSON.parse + stringify would give it back
    if (line.startsWith(prefix) && line.endsWith("}")) {
      return { custom_id, url, body: line.slice(prefix.length, -1) };
    }
  }
  throw new Error("not a request line");
}

/** OpenAI's batch input lines */
export const openAIRequestLines: RequestLineCodec = {
  encode: encodeRequestLine,
  decode: decodeRequestLine,
};

/** the line up to its body */
function linePrefix(id: string, url: string): string {
  return `{"custom_id":${JSON.stringify(id)},"method":"POST","url":${JSON.stringify(url)},"body":`;
}
