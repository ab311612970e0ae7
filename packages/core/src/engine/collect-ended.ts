/** The run loop's collection turn: every ended shard that may be collected now is delivered. */
import type { ShardRow } from "../state/index.js";
import type { Delivery } from "./delivery.js";
import { type LoopContext, shardsIn } from "./loop-context.js";
import { interrupted } from "./read/index.js";

export async function collectEnded(
  ctx: LoopContext,
  delivery: Delivery,
  o: {
    cancelling: boolean;
    /** batch.deadline has passed: what a cancelled batch left undone goes live (CollectOptions) */
    deadlinePassed: boolean;
    /** false while the read may still add identical requests of the root (read-link.ts) */
    mayCollect(root: string): boolean;
    /** the collection of a shard of `root` has ended, however it went */
    collectionDone(root: string): void;
    collected(shard: ShardRow): void;
  },
): Promise<void> {
  for (const shard of shardsIn(ctx, "ended")) {
    if (!delivery.due(shard) || !o.mayCollect(shard.root)) continue;
    if (ctx.signal.aborted) throw interrupted();
    let outcome: Awaited<ReturnType<typeof delivery.collect>>;
    try {
      outcome = await delivery.collect(shard, { noRetry: o.cancelling, deadlinePassed: o.deadlinePassed });
    } finally {
      o.collectionDone(shard.root);
    }
    if (!outcome.ok) continue;
    if (outcome.retryShard) ctx.shards.set(outcome.retryShard.name, outcome.retryShard);
    const d = outcome.delivered;
    ctx.emit({
      type: "shard_collected",
      run: ctx.runId,
      shard: shard.name,
      batchId: shard.batchId,
      status: shard.batch?.status ?? "missing",
      succeeded: d.succeeded,
      failed: d.failed,
      retried: d.retried,
      unexpected: d.unexpected,
      missing: d.missing,
    });
    o.collected(shard);
  }
}
