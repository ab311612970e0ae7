/**
 * Shard meta lines: beside each request line of a shard file, line for line, what the collector
 * needs to build that request's rows. Written by the read phase and retry shards, read by the
 * collector; this module is the only place that knows the format.
 */
import type { RecordPosition } from "../../plugin.js";

export interface ShardMeta {
  /** the record's id (the request's custom_id) */
  id: string;
  /** estimated input and output tokens */
  inputTokens: number;
  outputTokens: number;
  /** the index of this request in its first shard (identical requests point at it) */
  rootIndex: number;
  /** the request asked for JSON output */
  json: boolean;
  input: Record<string, unknown>;
  source: RecordPosition;
}

export function encodeShardMeta(meta: ShardMeta): string {
  return JSON.stringify({
    id: meta.id,
    inputTokens: meta.inputTokens,
    outputTokens: meta.outputTokens,
    rootIndex: meta.rootIndex,
    json: meta.json,
    input: meta.input,
    source: meta.source,
  });
}

export function decodeShardMeta(line: string): ShardMeta {
  return JSON.parse(line) as ShardMeta;
}
