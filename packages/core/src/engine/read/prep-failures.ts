/**
 * Failure rows of records that never became requests: an invalid record (the source could not parse
 * it), a request the transform refused, one too large for any shard. They go to
 * `<run>/prep-failures.jsonl`, which the run loop delivers to the error sinks with the first shard.
 */
import path from "node:path";
import type { FailureRow, InvalidRecord, RecordPosition, SourceRecord } from "../../plugin.js";
import { readLinesSync } from "./files.js";

/** the prep-failures file, relative to the state dir */
export const prepFailuresFile = (runId: string) => path.join(runId, "prep-failures.jsonl");

/** the row of a record the source could not parse */
export function invalidRecordRow(item: InvalidRecord): FailureRow {
  return {
    id: positionId(item.position),
    status: "failed",
    error: { code: item.invalid.code, message: item.invalid.message, status_code: null },
    attempts: 0,
    batch_id: null,
    input: null,
    source: item.position,
  };
}

/** the row of a record whose request was refused; `id` defaults to the record's own */
export function rejectedRow(
  record: SourceRecord,
  error: { code: string; message: string; id?: string },
): FailureRow {
  return {
    id: error.id ?? recordId(record),
    status: "failed",
    error: { code: error.code, message: error.message, status_code: null },
    attempts: 0,
    batch_id: null,
    input: record.data,
    source: record.position,
  };
}

/**
 * The custom_ids taken by the first `bytes` of a prep-failures file: a request too large for any
 * shard had its id taken (a later duplicate of it is still a duplicate).
 */
export function* takenIds(file: string, bytes: number): Generator<string> {
  for (const line of readLinesSync(file, bytes)) {
    const row = JSON.parse(line) as FailureRow;
    if (row.error.code === "request_too_large") yield row.id;
  }
}

function recordId(record: SourceRecord): string {
  const id = record.data.id;
  return typeof id === "string" || typeof id === "number" ? String(id) : positionId(record.position);
}

function positionId(position: RecordPosition): string {
  return `${path.basename(position.file)}:${position.line}`;
}
