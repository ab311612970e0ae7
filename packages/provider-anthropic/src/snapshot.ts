/** A Message Batch as the provider contract's BatchSnapshot, and what the engine keeps of it. */
import type { BatchSnapshot, JsonValue } from "@batchpipe/core/plugin";
import type { MessageBatch } from "./client.js";

/**
 * What the connection keeps in BatchRef.data: the submission's tag (its results must carry it) and
 * whether the batch is known to be ours (created by this submission, or its results showed the
 * tag), or was adopted by its shape after a lost answer (README: exactly once).
 */
export interface BatchData {
  tagId: string;
  confirmed: boolean;
}

export function toSnapshot(batch: MessageBatch, data: BatchData): BatchSnapshot {
  const c = batch.request_counts;
  const ended = batch.processing_status === "ended";
  const total = c.processing + c.succeeded + c.errored + c.canceled + c.expired;
  return {
    id: batch.id,
    data: { tagId: data.tagId, confirmed: data.confirmed },
    state: ended ? "ended" : "running",
    status: batch.processing_status,
    // per-request endings are in the results; a batch that was cancelled says so for the display
    ending: ended ? (c.canceled > 0 ? "cancelled" : c.expired > 0 ? "expired" : "completed") : null,
    queueFull: null,
    // Anthropic counts outcomes only once the whole batch has ended: until then, only `processing`
    counts: {
      total,
      completed: c.succeeded,
      failed: c.errored + c.canceled + c.expired,
      processing: c.processing,
    },
    errors: [],
    createdAt: parseTime(batch.created_at),
    expiresAt: parseTime(batch.expires_at),
  };
}

/** the requests a batch holds, whatever their state */
export function requestTotal(batch: MessageBatch): number {
  const c = batch.request_counts;
  return c.processing + c.succeeded + c.errored + c.canceled + c.expired;
}

export function batchData(data: JsonValue): BatchData | null {
  if (typeof data !== "object" || data === null || Array.isArray(data)) return null;
  if (typeof data.tagId !== "string") return null;
  return { tagId: data.tagId, confirmed: data.confirmed === true };
}

export function parseTime(value: string | null | undefined): number | null {
  if (!value) return null;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? null : ms;
}
