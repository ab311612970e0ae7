/**
 * Submitting a shard, and finding submissions again after a crash. Intent before effect: the shard
 * is `submitting` (with its submission number, the tag the provider can find it by) before the
 * provider is called, and what the provider stages on the way (an uploaded file) is recorded as it
 * happens, so a crash at any point neither loses a batch nor pays for one twice.
 */
import fs from "node:fs";
import path from "node:path";
import { BatchpipeError, ErrorCodes } from "../errors.js";
import type { BatchSnapshot, SubmissionTag, SubmitResult } from "../provider/contract.js";
import { tagKey } from "../provider/contract.js";
import { type ShardRow, stateTag } from "../state/index.js";
import {
  describeError,
  type LoopContext,
  patchShard,
  providerAnswered,
  providerCall,
  shardsIn,
  waitingShards,
  warn,
} from "./loop-context.js";
import { fmt } from "./read/read-errors.js";

/** how far back before the run's start to look for its submissions (clocks differ) */
const RECONCILE_MARGIN_MS = 15 * 60_000;

export function submissionTag(ctx: LoopContext, shard: ShardRow): SubmissionTag {
  return {
    pipeline: ctx.pipeline.spec.name,
    run: ctx.runId,
    shard: shard.name,
    submission: shard.submission,
    state: stateTag(ctx.stateDir),
  };
}

/**
 * Submit the shard as one batch. `fresh`: a new submission (a new tag); otherwise the same
 * submission is tried again after it was not found at the provider. `signal` (the run's, or one
 * that follows it) cuts the upload or create in flight: the shard stays `submitting`, and the next
 * run reconciles it as after a crash (a finished upload or create is found, never paid twice).
 */
export async function submitShard(
  ctx: LoopContext,
  shard: ShardRow,
  fresh: boolean,
  signal: AbortSignal = ctx.signal,
): Promise<SubmitResult> {
  const submission = fresh ? shard.submission + 1 : shard.submission;
  const file = path.join(ctx.stateDir, shard.file);
  if (shard.staged === null) checkShardFile(file, shard);
  patchShard(ctx, shard, { status: "submitting", submission });
  const result = await providerCall(
    ctx,
    (signal) =>
      ctx.provider.submit(
        {
          file,
          requests: shard.requests,
          bytes: shard.bytes,
          model: shard.model,
          endpoint: shard.endpoint,
          completionWindow: ctx.pipeline.spec.batch.completion_window,
          tag: submissionTag(ctx, shard),
        },
        {
          signal,
          staged: shard.staged,
          stage(data) {
            patchShard(ctx, shard, { staged: data });
            ctx.emit({ type: "shard_staged", run: ctx.runId, shard: shard.name });
          },
          maybeStarted: !fresh,
          since: ctx.runCreatedAt - RECONCILE_MARGIN_MS,
          known: knownBatches(ctx),
        },
      ),
    signal,
  );
  providerAnswered(ctx);
  return result;
}

/**
 * Shards left `submitting` by a crash or an ambiguous failure: the batches the provider has for
 * their tags are adopted (`found`); the others never reached it and are submitted again
 * (`notFound`) under the same tag.
 */
export async function reconcileSubmissions(
  ctx: LoopContext,
  handlers: {
    found(shard: ShardRow, batch: BatchSnapshot): void;
    notFound(shard: ShardRow): Promise<void>;
  },
): Promise<void> {
  const submitting = shardsIn(ctx, "submitting");
  if (submitting.length === 0) return;
  const found = await providerCall(ctx, (signal) =>
    ctx.provider.find(
      submitting.map((s) => submissionTag(ctx, s)),
      {
        since: ctx.runCreatedAt - RECONCILE_MARGIN_MS,
        signal,
        staged: new Map(
          submitting.map((s) => [tagKey({ shard: s.name, submission: s.submission }), s.staged]),
        ),
        known: knownBatches(ctx),
      },
    ),
  );
  providerAnswered(ctx);
  // the found first: a submission made again must know every batch the run holds
  const notFound: ShardRow[] = [];
  for (const shard of submitting) {
    const batch = found.get(tagKey({ shard: shard.name, submission: shard.submission }));
    if (batch) handlers.found(shard, batch);
    else notFound.push(shard);
  }
  for (const shard of notFound) await handlers.notFound(shard);
}

/** the batches the run's shards hold (a provider without metadata tells its own from them) */
function knownBatches(ctx: LoopContext): string[] {
  const ids: string[] = [];
  for (const s of ctx.shards.values()) if (s.batchId) ids.push(s.batchId);
  return ids;
}

/** whether `batchpipe cancel` asked to stop the run (a flag in the state another process sets) */
export function cancelRequested(ctx: LoopContext): boolean {
  return ctx.state.getRun(ctx.runId)?.cancelRequested === true;
}

/** `batchpipe cancel` asked to stop the run: its open batches are cancelled (true once it has) */
export function cancelIfRequested(ctx: LoopContext): boolean {
  if (!cancelRequested(ctx)) return false;
  warn(
    ctx,
    "the run was cancelled: open batches are cancelled, finished results delivered, the rest fails as batch_cancelled",
  );
  cancelShards(ctx);
  return true;
}

/**
 * The run is cancelled: shards not yet submitted end as never run (their requests fail as
 * batch_cancelled), open batches are asked to stop (what they finished is still delivered).
 */
export function cancelShards(ctx: LoopContext): void {
  for (const shard of waitingShards(ctx)) {
    patchShard(ctx, shard, {
      status: "ended",
      batchId: null,
      batchStatus: "cancelled",
      batch: NEVER_SUBMITTED,
    });
  }
  for (const shard of shardsIn(ctx, "open")) {
    const ref = { id: shard.batchId!, data: shard.batch?.data ?? null };
    // not awaited by the loop; its retries still stop at batch.max_outage
    void providerCall(ctx, (signal) => ctx.provider.cancel(ref, { signal })).catch((error) => {
      // a stop cut it short: the run's own message says it stopped
      if (ctx.signal.aborted) return;
      warn(ctx, `could not cancel batch ${shard.batchId}: ${describeError(error)}`);
    });
  }
}

/** the batch of a shard the run was cancelled before submitting */
const NEVER_SUBMITTED: BatchSnapshot = {
  id: "",
  data: null,
  state: "ended",
  status: "cancelled",
  ending: "cancelled",
  queueFull: null,
  counts: null,
  errors: [],
  createdAt: null,
  expiresAt: null,
};

/**
 * The shard file as the read wrote it: one cut short or changed in the state folder (a full disk, a
 * restored backup, a hand edit) would send fewer or garbled requests, and the records of the lines
 * lost would end neither succeeded nor failed (15 of 90 in a tester's run, reported as a success).
 * Checked before the first submission (nothing staged at the provider yet: a staged upload is
 * reused, and a collected shard's file may be cleaned up), before anything is paid.
 */
function checkShardFile(file: string, shard: ShardRow): void {
  let size: number | undefined;
  try {
    size = fs.statSync(file).size;
  } catch {}
  if (size === shard.bytes) return;
  throw new BatchpipeError(
    ErrorCodes.STATE_FAILED,
    size === undefined
      ? `the shard file ${file} is missing: shard ${shard.name} (${fmt(shard.requests)} requests) cannot be submitted`
      : `the shard file ${file} has ${fmt(size)} bytes, but ${fmt(shard.bytes)} were written when its ${fmt(shard.requests)} requests were read: it was cut short or changed outside batchpipe, and submitting it would lose or garble requests`,
    {
      hint: "Restore the state folder from a backup, or give this run up: `batchpipe cancel <spec>` (from code: cancelRun) and run it (its requests not sent fail as batch_cancelled), then run again to send them (what succeeded is answered from the result cache).",
    },
  );
}
