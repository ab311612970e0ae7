/**
 * The read checkpoint: everything needed to continue an interrupted read phase after `read` records,
 * stored as JSON text in the run state (committed with the shards it sealed).
 */
import type { Checkpoint, RecordPosition } from "../../plugin.js";
import type { RunTotals } from "../../state/index.js";
import type { EstimatorState } from "../read/estimator.js";
import type { ShardWriterState } from "../read/shard-writer.js";

/**
 * 2: shard meta lines with full key names. A read checkpointed by version 1 starts over (its shard
 * files hold meta lines of the old format). A checkpoint of an earlier build of version 2 also holds
 * the dataset fingerprint (removed in issue 17), which is ignored.
 */
const VERSION = 2;

export interface ReadCheckpoint {
  /** readIdentity() of the pipeline that wrote it: a changed spec starts the read over */
  identity: string;
  /** records handled (valid and invalid) */
  read: number;
  /** the cursor of the last record handled; null when the source gave none (no resume) */
  source: { cursor: Checkpoint } | null;
  /** where the read's first record was: a source that yields it again ignored the cursor */
  first: RecordPosition | null;
  /**
   * a source without a cursor (standard input, a pipe): a hash of the records read, so a resumed
   * read that skips them can tell whether the producer fed the same ones (recordsHash in read/resume.ts)
   */
  records?: number;
  totals: RunTotals;
  costByModel: [string, { input: number; output: number }][];
  estimator: EstimatorState;
  writer: ShardWriterState;
  /** bytes of the prep-failures file */
  failuresBytes: number;
}

export function encodeReadCheckpoint(checkpoint: ReadCheckpoint): string {
  return JSON.stringify({ version: VERSION, ...checkpoint });
}

/** undefined: not a checkpoint this version can continue from (unreadable, or another version's) */
export function decodeReadCheckpoint(text: string): ReadCheckpoint | undefined {
  let parsed: (ReadCheckpoint & { version?: unknown }) | null;
  try {
    parsed = JSON.parse(text) as (ReadCheckpoint & { version?: unknown }) | null;
  } catch {
    return undefined;
  }
  if (parsed?.version !== VERSION) return undefined;
  const { version: _, ...checkpoint } = parsed;
  return checkpoint;
}
