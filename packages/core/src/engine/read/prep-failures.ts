/**
 * Failure rows of records that never became requests: an invalid record (the source could not parse
 * it), a request the transform refused, one too large for any shard. They go to
 * `<run>/prep-failures.jsonl`, which the run loop delivers to the error sinks with the first shard.
 */
import path from "node:path";
import type { FailureRow, InvalidRecord, RecordPosition, SourceRecord } from "../../plugin.js";
import { withInput } from "../codecs/shard-meta.js";
import { readLinesSync } from "./files.js";

/** the prep-failures file, relative to the state dir */
export const prepFailuresFile = (runId: string) => path.join(runId, "prep-failures.jsonl");

/**
 * The failure rows of one read. A row's id is its request's custom_id when the transform rendered
 * one, else the record's position, `<file>:<line>`: the file relative to the spec's folder (`dir`),
 * so two files of one name in different folders (`date=…/part-0.jsonl`) give distinct ids, or the
 * source's own locator when it is not a path (`-` for standard input). A row's message names files
 * the same way (sources and transforms write absolute paths): rows of one pipeline read the same
 * from any machine or folder, in a table they share.
 */
export function failureRows(dir: string) {
  const positionId = (position: RecordPosition) => positionIdIn(dir, position);
  const message = (text: string, position: RecordPosition) => messageIn(dir, text, position);
  return {
    /** the line of a record the source could not parse */
    invalid(item: InvalidRecord): string {
      const row: FailureRow = {
        id: positionId(item.position),
        status: "failed",
        error: {
          code: item.invalid.code,
          message: message(item.invalid.message, item.position),
          status_code: null,
        },
        attempts: 0,
        batch_id: null,
        input: null,
        source: item.position,
      };
      return JSON.stringify(row);
    },
    /**
     * The line of a record whose request was refused (`input`: its data as JSON text); without a
     * custom_id (`id` absent or empty), its position's.
     */
    rejected(
      record: SourceRecord,
      error: { code: string; message: string; id?: string },
      input: string,
    ): string {
      const row: Omit<FailureRow, "input"> = {
        id: error.id || positionId(record.position),
        status: "failed",
        error: { code: error.code, message: message(error.message, record.position), status_code: null },
        attempts: 0,
        batch_id: null,
        source: record.position,
      };
      return withInput(row, input);
    },
  };
}

/**
 * Whether a failure row's record took its custom_id (RecordPlacement.place, placement.ts: the first
 * occurrence of an id wins, even when it fails): a record refused with an id of its own (by the
 * transform, too large, over its model's limits). Not a duplicate_id (the id is an earlier record's), nor a record
 * without one (its id is its position in `dir`, the spec's folder).
 */
export function tookId(row: FailureRow, dir: string): boolean {
  return row.error.code !== "duplicate_id" && row.input !== null && row.id !== positionIdIn(dir, row.source);
}

/** the custom_ids taken by the first `bytes` of a prep-failures file (tookId) */
export function* takenIds(file: string, bytes: number, dir: string): Generator<string> {
  for (const line of readLinesSync(file, bytes)) {
    const row = JSON.parse(line) as FailureRow;
    if (tookId(row, dir)) yield row.id;
  }
}

function positionIdIn(dir: string, position: RecordPosition): string {
  return `${fileIn(dir, position.file)}:${position.line}`;
}

/** a record's file as its position id names it: from `dir` when absolute, else the source's locator */
function fileIn(dir: string, file: string): string {
  return path.isAbsolute(file) ? path.relative(dir, file).split(path.sep).join("/") : file;
}

/**
 * A failure message with the record's file named as in its id, and any other file in `dir` (an
 * earlier record's, a duplicate's first occurrence) from `dir` too
 */
function messageIn(dir: string, message: string, position: RecordPosition): string {
  let out = message;
  if (path.isAbsolute(position.file) && out.includes(position.file))
    out = out.split(position.file).join(fileIn(dir, position.file));
  const prefix = dir.endsWith(path.sep) ? dir : `${dir}${path.sep}`;
  return out.includes(prefix) ? out.split(prefix).join("") : out;
}
