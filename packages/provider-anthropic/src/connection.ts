/**
 * The provider contract over Anthropic's Message Batches. A batch carries no metadata, so a
 * submission is recognised by what it sent: every custom_id carries the submission's tag (ids.ts),
 * the engine records `{ tagId, startedAt }` before the create and the batch id after it, and a
 * create whose answer was lost is found by listing (locate.ts). README.md has the argument.
 */
import {
  type BatchRef,
  type BatchSnapshot,
  type JsonValue,
  keyRedactor,
  type ProviderConnection,
  type ResultItem,
  redactedResult,
  tagKey,
} from "@batchpipe/core/plugin";
import {
  type AnthropicClient,
  type AnthropicClientOptions,
  createAnthropicClient,
  type MessageBatch,
} from "./client.js";
import { toResultItem } from "./format.js";
import { submissionTagId } from "./ids.js";
import { createLiveCaller } from "./live.js";
import { belongsTo, CLOCK_SKEW_MS, type Located, locate } from "./locate.js";

type Found = Extract<Located, { kind: "found" }>;

import { apiMessage, isAmbiguous, ProviderError, statusOf, Transient, withRetries } from "./retry.js";
import { batchData, toSnapshot } from "./snapshot.js";

export type AnthropicConnectionOptions = AnthropicClientOptions;

/** what a submission staged with the engine: its tag, when its first create started, its batch */
interface Staged {
  tagId: string;
  startedAt: number;
  requests: number;
  batchId: string | null;
}

export function createAnthropicConnection(options: AnthropicConnectionOptions): ProviderConnection {
  const client = createAnthropicClient(options);
  const live = createLiveCaller(options);
  // a result's error message can echo what the provider was sent, the key included
  const redact = keyRedactor(options.apiKey, "sk-ant-");
  // an ambiguous lookup stays so until batches end: ask again after a while, not on every turn
  const ambiguous = new Map<string, { until: number; message: string }>();
  const lookUp = async (o: Parameters<typeof locate>[1]): Promise<Located> => {
    const known = ambiguous.get(o.tagId);
    if (known && Date.now() < known.until) return { kind: "ambiguous", message: known.message };
    const result = await locate(client, o);
    if (result.kind === "ambiguous")
      ambiguous.set(o.tagId, { until: Date.now() + AMBIGUOUS_RECHECK_MS, message: result.message });
    else ambiguous.delete(o.tagId);
    return result;
  };
  return {
    live,
    async submit(shard, { staged, stage, signal, known }) {
      const tagId = submissionTagId(shard.tag);
      const earlier = stagedFor(staged, tagId);
      if (earlier?.batchId) {
        const batch = await client.retrieve(earlier.batchId, signal);
        if (batch) return { batch: toSnapshot(batch, { tagId, confirmed: true }) };
      }
      const startedAt = earlier?.startedAt ?? Date.now();
      // intent before effect: from here on a crash leaves a tag that find() looks for
      if (!earlier) stage({ tagId, startedAt, requests: shard.requests, batchId: null });
      // an earlier try of this very submission may have created the batch
      let mayExist = earlier !== null;
      const known_ = new Set(known ?? []);
      const outcome = await withRetries(
        client.ctx,
        "POST /v1/messages/batches",
        async (callSignal): Promise<Found | { queueFull: string }> => {
          if (mayExist) {
            const found = await lookUp({
              tagId,
              requests: shard.requests,
              startedAt,
              known: known_,
              signal: callSignal,
            });
            if (found.kind === "found") return found;
            if (found.kind === "ambiguous") throw new Transient(found.message);
          }
          try {
            const batch = await client.createOnce(shard.file, tagId, callSignal);
            return { kind: "found", batch, confirmed: true };
          } catch (error) {
            // the request-count queue is full: wait for it, not an error
            if (statusOf(error) === 429 && /queue/i.test(apiMessage(error)))
              return { queueFull: client.ctx.redact(apiMessage(error)) };
            if (isAmbiguous(error)) mayExist = true;
            throw error;
          }
        },
        signal,
      );
      if ("queueFull" in outcome) return outcome;
      stage({ tagId, startedAt, requests: shard.requests, batchId: outcome.batch.id });
      return { batch: toSnapshot(outcome.batch, { tagId, confirmed: outcome.confirmed }) };
    },

    async find(tags, { signal, staged, known }) {
      const found = new Map<string, BatchSnapshot>();
      const claimed = new Set(known ?? []);
      for (const tag of tags) {
        const tagId = submissionTagId(tag);
        const st = stagedFor(staged?.get(tagKey(tag)) ?? null, tagId);
        // nothing staged: the create never started (the tag is staged before it)
        if (!st) continue;
        let located: Found | null = null;
        if (st.batchId) {
          // a retrieve that answers 404 is checked against the list: one 404 is no proof it is gone
          const batch =
            (await client.retrieve(st.batchId, signal)) ??
            (await listed(client, st.batchId, st.startedAt, signal));
          if (batch) located = { kind: "found", batch, confirmed: true };
        } else {
          const result = await lookUp({
            tagId,
            requests: st.requests,
            startedAt: st.startedAt,
            known: claimed,
            signal,
          });
          if (result.kind === "ambiguous") {
            throw new ProviderError({
              route: "GET /v1/messages/batches",
              message: result.message,
              hint: AMBIGUOUS_HINT,
              attempts: 1,
            });
          }
          if (result.kind === "found") located = result;
        }
        if (!located) continue;
        claimed.add(located.batch.id);
        found.set(tagKey(tag), toSnapshot(located.batch, { tagId, confirmed: located.confirmed }));
      }
      return found;
    },

    async poll(ref, { signal }) {
      const batch = await client.retrieve(ref.id, signal);
      return batch && toSnapshot(batch, dataOf(ref));
    },

    results(batch, { signal }) {
      return streamResults(client, batch, redact, signal);
    },

    async cancel(ref, options) {
      // a batch adopted by its shape may be someone else's until its results say otherwise
      if (!dataOf(ref).confirmed) return;
      await client.cancel(ref.id, options?.signal);
    },

    async cleanUp({ staged, batch }, options) {
      const signal = options?.signal;
      const id = batch?.id || stagedFor(staged, null)?.batchId;
      if (!id) return;
      const found = await client.retrieve(id, signal);
      // only an ended batch can be deleted; one not confirmed ours is left alone unless its results are ours
      if (found?.processing_status !== "ended") return;
      const data = batch ? dataOf(batch) : { tagId: stagedFor(staged, null)!.tagId, confirmed: true };
      if (!data.confirmed && !(await belongsTo(client, found, data.tagId, signal))) return;
      await client.delete(id, signal);
    },

    async close() {},
  };
}

const AMBIGUOUS_RECHECK_MS = 60_000;

const AMBIGUOUS_HINT =
  "Run again later: once those batches have ended, their results tell which one is this shard's.";

async function* streamResults(
  client: AnthropicClient,
  snapshot: BatchSnapshot,
  redact: (text: string) => string,
  signal: AbortSignal,
): AsyncGenerator<ResultItem> {
  const { tagId } = dataOf(snapshot);
  // a retrieve answering 404 is checked against the list; absent from both, the download of its
  // results is "gone" (404): the engine takes the results as lost only after several in a row
  const batch =
    (await client.retrieve(snapshot.id, signal)) ??
    (await listed(client, snapshot.id, snapshot.createdAt ?? 0, signal));
  if (!batch) {
    const route = `GET /v1/messages/batches/${snapshot.id}`;
    throw new ProviderError({
      route,
      status: 404,
      attempts: 1,
      message: `${route} answered 404 and the batch is not in the list: its results cannot be read`,
      hint: "The batch was deleted at the provider; its requests are retried once it stays gone.",
    });
  }
  let n = 0;
  let readable = 0;
  for await (const text of client.resultLines(batch, signal)) {
    n++;
    const where = `line ${n} of batch ${batch.id}'s results`;
    let line: unknown;
    try {
      line = JSON.parse(text);
    } catch (error) {
      yield { kind: "unreadable", reason: redact(`${where} is not JSON: ${(error as Error).message}`) };
      continue;
    }
    // a result line, even of another submission's tag (a batch adopted by its shape)
    if (typeof (line as { custom_id?: unknown } | null)?.custom_id === "string") readable++;
    yield redactedResult(toResultItem(line, tagId, where), redact);
  }
  // an ended batch that counted requests but whose results hold none (an empty body, a proxy's
  // page): "gone" to the engine, which tries again on its backoff before paying for them again
  const ended = (snapshot.counts?.completed ?? 0) + (snapshot.counts?.failed ?? 0);
  if (readable === 0 && ended > 0) {
    const route = `GET /v1/messages/batches/${batch.id}/results`;
    throw new ProviderError({
      route,
      status: 404,
      resultsAbsent: true,
      attempts: 1,
      message: `batch ${batch.id} reports ${ended} requests ended (done, and billed, by the provider) but ${route} held no result line`,
      hint: "Tried again on a backoff; after 3 tries in a row its requests are missing (and retried). Check the batch at the provider.",
    });
  }
}

function dataOf(ref: BatchRef): { tagId: string; confirmed: boolean } {
  return batchData(ref.data) ?? { tagId: "", confirmed: false };
}

/** what this submission staged; `tagId` null: whatever submission staged it */
function stagedFor(staged: JsonValue, tagId: string | null): Staged | null {
  if (typeof staged !== "object" || staged === null || Array.isArray(staged)) return null;
  if (typeof staged.tagId !== "string" || typeof staged.startedAt !== "number") return null;
  if (tagId !== null && staged.tagId !== tagId) return null;
  return {
    tagId: staged.tagId,
    startedAt: staged.startedAt,
    requests: typeof staged.requests === "number" ? staged.requests : -1,
    batchId: typeof staged.batchId === "string" && staged.batchId !== "" ? staged.batchId : null,
  };
}

/** the batch of this id in the provider's list (newest first, down to its create less the clock skew) */
async function listed(
  client: AnthropicClient,
  id: string,
  startedAt: number,
  signal: AbortSignal,
): Promise<MessageBatch | null> {
  for await (const batch of client.list(signal)) {
    if (batch.id === id) return batch;
    if (Date.parse(batch.created_at) < startedAt - CLOCK_SKEW_MS) return null;
  }
  return null;
}
