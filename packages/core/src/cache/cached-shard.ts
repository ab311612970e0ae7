/**
 * Requests answered from the result cache go through the engine like any other: the read phase
 * writes them to shards of their own (one per model + endpoint, marked `cached`), whose lines are
 * the cached results instead of requests, beside the usual meta lines. Such a shard is `ended`
 * from the start (batch "cache", nothing to submit, cost 0) and collection reads its file as a
 * batch's results. So cached records reach the sinks exactly once through the same delivery, part
 * commits, fan-out of identical requests and crash recovery as paid ones, with no second path.
 */
import path from "node:path";
import { readFileLines } from "../engine/read/files.js";
import type { BatchSnapshot, ProviderConnection, ResultItem } from "../provider/contract.js";
import type { CacheHit } from "./result-cache.js";

/** the provider status word of a shard answered from the cache */
export const ANSWERED_FROM_CACHE = "answered_from_cache";

/** a cached shard's line: the record's id and its cached success (spliced in, never parsed here) */
export function cachedLine(id: string, hit: CacheHit): string {
  return `{"id":${JSON.stringify(id)},"result":${hit.json}}`;
}

/** the "batch" of a cached shard: ended, its results in the shard's own file */
export function cachedBatch(file: string): BatchSnapshot {
  return {
    // rows answered this way show batch_id "cache"
    id: "cache",
    data: { cache: file },
    state: "ended",
    status: ANSWERED_FROM_CACHE,
    ending: "completed",
    queueFull: null,
    counts: null,
    errors: [],
    createdAt: null,
    expiresAt: null,
  };
}

export function isFromCache(batch: BatchSnapshot | null | undefined): boolean {
  return batch?.status === ANSWERED_FROM_CACHE;
}

/** reads a cached shard's lines back as the results of a batch */
export function cachedResults(stateDir: string): Pick<ProviderConnection, "results"> {
  return {
    async *results(batch) {
      const data = batch.data as { cache?: unknown } | null;
      if (typeof data?.cache !== "string") return;
      for await (const line of readFileLines(path.join(stateDir, data.cache))) {
        if (line === "") continue;
        const { id, result } = JSON.parse(line) as {
          id: string;
          result: Omit<ResultItem & { kind: "success" }, "kind" | "id">;
        };
        yield { kind: "success", id, response: result.response, usage: result.usage, model: result.model };
      }
    },
  };
}
