/** An OpenAI batch (normalised) as the provider contract's BatchSnapshot. */
import type { BatchEnding, BatchSnapshot, JsonValue } from "@batchpipe/core/plugin";
import type { BatchInfo, BatchStatus } from "./types.js";

/** what the connection keeps in BatchRef.data: the files it reads results from and deletes */
export type BatchData = {
  input_file_id: string | null;
  output_file_id: string | null;
  error_file_id: string | null;
};

const ENDINGS: ReadonlySet<BatchStatus> = new Set(["completed", "expired", "cancelled", "failed"]);

/** OpenAI's queue refusal: a failed batch (or, on some servers, a 400 at create) with this code */
export const QUEUE_FULL_CODE = "token_limit_exceeded";

export function toSnapshot(batch: BatchInfo): BatchSnapshot {
  const ended = ENDINGS.has(batch.status);
  const queueError =
    batch.status === "failed" ? batch.errors.find((e) => e.code === QUEUE_FULL_CODE) : undefined;
  const data: BatchData = {
    input_file_id: batch.input_file_id || null,
    output_file_id: batch.output_file_id,
    error_file_id: batch.error_file_id,
  };
  return {
    id: batch.id,
    data,
    state: ended ? "ended" : "running",
    status: batch.status,
    ending: ended ? (batch.status as BatchEnding) : null,
    queueFull: queueError ? queueError.message || QUEUE_FULL_CODE : null,
    counts: { ...batch.request_counts },
    errors: batch.errors.map((e) => ({
      code: e.code ?? (e.line !== null ? "invalid_request" : "batch_failed"),
      message: e.message,
      line: e.line,
    })),
    createdAt: batch.created_at ? batch.created_at * 1000 : null,
    expiresAt: batch.expires_at === null ? null : batch.expires_at * 1000,
  };
}

/** BatchRef.data back from the engine's storage; anything else reads as "no files known" */
export function batchData(data: JsonValue): BatchData {
  const record = typeof data === "object" && data !== null && !Array.isArray(data) ? data : {};
  const id = (value: JsonValue | undefined) => (typeof value === "string" && value !== "" ? value : null);
  return {
    input_file_id: id(record.input_file_id),
    output_file_id: id(record.output_file_id),
    error_file_id: id(record.error_file_id),
  };
}
