/**
 * Finding a batch whose create answer was lost. A Message Batch has no metadata, so while it runs
 * only its shape can be seen: when it was created and how many requests it holds. A candidate is a
 * batch created no earlier than the submission's first create (less a margin for clock skew) with
 * the shard's request count that the run does not already hold. An ended candidate is proven ours
 * or not by its results (every custom_id carries the submission's tag); a running one cannot be.
 *
 * - one candidate proven ours: found;
 * - else exactly one running candidate: adopted, unconfirmed (its results are checked when read:
 *   lines of another tag are never taken for ours, and a batch that was not ours leaves the
 *   shard's requests without results, so they are retried, never lost);
 * - none: the create never happened, create it;
 * - several running candidates: ambiguous; wait until they end (then their results tell).
 */
import type { AnthropicClient, MessageBatch } from "./client.js";
import { parseCustomId } from "./ids.js";
import { requestTotal } from "./snapshot.js";

/** how much earlier than our clock said the server may date a batch we created */
export const CLOCK_SKEW_MS = 5 * 60_000;

export type Located =
  | { kind: "found"; batch: MessageBatch; confirmed: boolean }
  | { kind: "none" }
  | { kind: "ambiguous"; message: string };

export async function locate(
  client: AnthropicClient,
  o: { tagId: string; requests: number; startedAt: number; known: ReadonlySet<string>; signal: AbortSignal },
): Promise<Located> {
  const since = o.startedAt - CLOCK_SKEW_MS;
  const running: MessageBatch[] = [];
  for await (const batch of client.list(o.signal)) {
    const created = Date.parse(batch.created_at);
    // newest first: nothing older can be ours
    if (created < since) break;
    if (o.known.has(batch.id) || requestTotal(batch) !== o.requests) continue;
    if (batch.processing_status !== "ended" || !batch.results_url) {
      running.push(batch);
      continue;
    }
    if (await belongsTo(client, batch, o.tagId, o.signal)) return { kind: "found", batch, confirmed: true };
  }
  if (running.length === 0) return { kind: "none" };
  if (running.length === 1) return { kind: "found", batch: running[0]!, confirmed: false };
  return {
    kind: "ambiguous",
    message: `${running.length} running batches of ${o.requests} requests were created since this shard's create started (${running.map((b) => b.id).join(", ")}); which one is this shard's shows only in their results`,
  };
}

/** whether an ended batch's results carry the tag (the first line tells: a batch holds one submission) */
export async function belongsTo(
  client: AnthropicClient,
  batch: MessageBatch,
  tagId: string,
  signal: AbortSignal = new AbortController().signal,
): Promise<boolean> {
  for await (const text of client.resultLines(batch, signal)) {
    try {
      const id = (JSON.parse(text) as { custom_id?: unknown }).custom_id;
      return typeof id === "string" && parseCustomId(id)?.tagId === tagId;
    } catch {
      return false;
    }
  }
  return false;
}
