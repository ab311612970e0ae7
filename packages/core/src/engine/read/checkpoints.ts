/**
 * Read checkpoints. Every `checkpointEvery` records (10,000 by default) the read records how far it
 * got: the open shard files and the prep-failures file are flushed and their lengths recorded, with
 * the source's cursor, the totals, the estimator's calibration and the identical requests found
 * so far (codecs/read-checkpoint.ts). The caller commits it all in one
 * transaction; resume.ts continues from there.
 */
import { createHash } from "node:crypto";
import type { FanoutBatch, ShardRow } from "../../state/index.js";
import type { ReadCheckpoint } from "../codecs/read-checkpoint.js";
import type { EnginePipeline } from "../types.js";
import { syncFiles } from "./files.js";

export const DEFAULT_CHECKPOINT_EVERY = 10_000;

/** what shapes the read's output: a checkpoint written under another identity is not resumed */
export function readIdentity(pipeline: EnginePipeline): string {
  const { spec } = pipeline;
  const parts = [
    pipeline.source.use,
    pipeline.source.options,
    pipeline.transform.use,
    pipeline.transform.options,
    spec.batch.max_requests,
    spec.batch.max_bytes,
    spec.batch.max_enqueued_tokens,
  ];
  let text: string;
  try {
    text = JSON.stringify(parts) ?? "";
  } catch {
    text = String(parts);
  }
  return createHash("sha256").update(text).digest("hex").slice(0, 32);
}

/** make a checkpoint durable: with the shards sealed and the identical requests found since the last */
export type CommitCheckpoint = (
  checkpoint: ReadCheckpoint,
  sealed: ShardRow[],
  fanout: FanoutBatch[],
) => void;

/**
 * Commits checkpoints one at a time. A checkpoint's files are synced off the main thread while
 * reading goes on (files only grow, so the lengths it recorded stay valid), then it is committed.
 */
export class CheckpointCommits {
  /** records the last committed checkpoint covers */
  recorded: number;
  /** whether the source can resume there (it gave a cursor) */
  recordedCursor: boolean;
  private sealedRecorded: number;
  private pending: Promise<void> | undefined;

  constructor(
    private readonly commit: CommitCheckpoint,
    from: { checkpoint: ReadCheckpoint; sealed: number } | undefined,
  ) {
    this.recorded = from?.checkpoint.read ?? 0;
    this.recordedCursor = from?.checkpoint.source != null;
    this.sealedRecorded = from?.sealed ?? 0;
  }

  /**
   * Commit `checkpoint` once `files` are durable, after the one before it. `sealed`: every shard
   * sealed so far (those not yet recorded are committed with it).
   */
  async save(
    checkpoint: ReadCheckpoint,
    files: string[],
    sealed: ShardRow[],
    fanout: FanoutBatch[],
  ): Promise<void> {
    await this.settle();
    const newlySealed = sealed.slice(this.sealedRecorded);
    this.sealedRecorded = sealed.length;
    this.pending = syncFiles(files).then(() => {
      this.commit(checkpoint, newlySealed, fanout);
      this.recorded = checkpoint.read;
      this.recordedCursor = checkpoint.source !== null;
    });
    // a failure surfaces where the checkpoint is settled, never as an unhandled rejection
    this.pending.catch(() => undefined);
  }

  /** wait for the checkpoint in flight to be committed (its failure is thrown here) */
  async settle(): Promise<void> {
    const p = this.pending;
    this.pending = undefined;
    await p;
  }
}
