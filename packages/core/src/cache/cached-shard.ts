/**
 * Requests answered from the result cache go through the engine like any other: the read phase
 * writes them to shards of their own (one per model + endpoint, marked `cached`), whose lines are
 * the cached results instead of requests, beside the usual meta lines. Such a shard is `ended`
 * from the start (batch "cache", nothing to submit, cost 0) and collection reads its file as a
 * batch's results, as it reads the answers of a shard sent live after batch.deadline. So cached
 * records reach the sinks exactly once through the same delivery, part commits, fan-out of
 * identical requests and crash recovery as paid ones, with no second path.
 */
import { answeredLocally, liveResults } from "../engine/live-fallback.js";
import type { ShardEntry } from "../engine/read/shard-writer.js";
import type { BatchSnapshot, ProviderConnection } from "../provider/contract.js";
import type { CacheHit } from "./result-cache.js";

/** the provider status word of a shard answered from the cache */
export const ANSWERED_FROM_CACHE = "answered_from_cache";

/**
 * The shard entry of a request answered from the cache: its line is the cached result in the live
 * answers' format `{ result: ResultItem }` (the stored JSON, `{"response":…}`, spliced in after the
 * kind and id, never parsed here), and it sends no tokens (its shard counts none). A literal, not
 * a spread of `entry`: in this V8 a spread that adds a property costs ~0.9 µs (bench/lib/analysis.md,
 * fourteenth pass), once per record of a rerun.
 */
export function cachedEntry(entry: ShardEntry, hit: CacheHit): ShardEntry {
  const line = `{"result":{"kind":"success","id":${JSON.stringify(entry.id)},${hit.json.slice(1)}}`;
  return {
    model: entry.model,
    endpoint: entry.endpoint,
    line,
    bytes: Buffer.byteLength(line) + 1,
    inputTokens: 0,
    outputTokens: 0,
    inputs: 0,
    id: entry.id,
    requestDigest: entry.requestDigest,
    jsonOutput: entry.jsonOutput,
    input: entry.input,
    source: entry.source,
    cached: true,
  };
}

/** the "batch" of a cached shard: ended, its results in the shard's own file */
export function cachedBatch(file: string): BatchSnapshot {
  // rows answered this way show batch_id "cache"
  return answeredLocally("cache", ANSWERED_FROM_CACHE, { cache: file });
}

export function isFromCache(batch: BatchSnapshot | null | undefined): boolean {
  return batch?.status === ANSWERED_FROM_CACHE;
}

/** reads a cached shard's lines back as the results of a batch */
export function cachedResults(stateDir: string): Pick<ProviderConnection, "results"> {
  return liveResults(stateDir, "cache");
}
