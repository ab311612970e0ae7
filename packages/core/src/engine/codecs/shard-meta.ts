/**
 * Shard meta lines: beside each shard file `NNNNN.jsonl`, `NNNNN.meta.jsonl` holds one JSON line per
 * request line, in the same order: what the collector needs to turn a result into rows (the record's
 * id, input and position), the token estimates a retry shard adds up, and where identical requests
 * point. A retry shard copies the meta lines of the requests it sends again.
 */
import { BatchpipeError, ErrorCodes } from "../../errors.js";
import type { RecordPosition } from "../../plugin.js";

export interface ShardMeta {
  /** the record's id (the request's custom_id) */
  id: string;
  /** estimated input and output tokens of the request */
  inputTokens: number;
  outputTokens: number;
  /** the request's index in its first-attempt shard: identical requests point at it */
  rootIndex: number;
  /** what recognises an identical request (its endpoint and body): a resumed read rebuilds its table from these */
  requestDigest: [number, number, number];
  /** the request asked for JSON output (the output is parsed) */
  jsonOutput: boolean;
  /**
   * attempts of the request that never ran (a batch.deadline cancel left it undone): its rows show,
   * and batch.max_attempts counts, the shard's attempt less these: the attempts the provider was
   * asked to run it
   */
  unspent?: number;
  input: Record<string, unknown>;
  source: RecordPosition;
}

/** the line without its newline; `input` is the record's data as JSON text (serialised once, by the read) */
export function encodeShardMeta(meta: Omit<ShardMeta, "input"> & { input: string }): string {
  return withInput(
    {
      id: meta.id,
      inputTokens: meta.inputTokens,
      outputTokens: meta.outputTokens,
      rootIndex: meta.rootIndex,
      requestDigest: meta.requestDigest,
      // absent when false (JSON.stringify leaves out undefined)
      jsonOutput: meta.jsonOutput || undefined,
      unspent: meta.unspent || undefined,
      source: meta.source,
    },
    meta.input,
  );
}

/** `where`: the file and line, for the error a damaged line gets */
export function decodeShardMeta(line: string, where?: () => string): ShardMeta {
  let meta: Partial<ShardMeta>;
  try {
    meta = JSON.parse(line) as Partial<ShardMeta>;
  } catch (error) {
    // a file of the state cut short or written over: collecting again cannot mend it (it was taken
    // for a provider's failure to read results, and retried every few seconds without end)
    throw new BatchpipeError(
      ErrorCodes.STATE_FAILED,
      `a shard meta line${where ? ` (${where()})` : ""} is damaged, not JSON (${(error as Error).message}): the state folder was cut short or changed outside batchpipe`,
      {
        hint: "Restore the state folder from a backup. Without one, start over: move its state.db aside (the result cache, cache.db, stays) and run with --force (from code: force: true): requests that succeeded are answered from the result cache, the others are sent again.",
      },
    );
  }
  if (
    typeof meta.id !== "string" ||
    typeof meta.inputTokens !== "number" ||
    !Array.isArray(meta.requestDigest)
  ) {
    throw new BatchpipeError(
      ErrorCodes.STATE_FAILED,
      "a shard meta line is not in this version's format (the run was started by another batchpipe version)",
      {
        hint: "Finish the run with the batchpipe version that started it, or delete the state folder to start over.",
      },
    );
  }
  meta.jsonOutput = meta.jsonOutput === true;
  return meta as ShardMeta;
}

/** `fields` as a JSON object with `"input":<input>` (JSON text, serialised once by the read) added last */
export function withInput(fields: object, input: string): string {
  return `${JSON.stringify(fields).slice(0, -1)},"input":${input}}`;
}
