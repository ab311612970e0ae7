/**
 * What a run leaves at the provider (batch.clean_up): a shard's uploaded and result files go as
 * soon as the shard is collected, beside the rest of the run, and the run's end takes care of
 * what is left (shards that ended without a collection, a clean-up that failed, shards collected
 * before a crash). A long run so keeps only its unfinished shards' files at the provider: Azure
 * OpenAI allows 500 files, and a run of a million records makes 80 shards.
 */
import type { ShardRow } from "../state/index.js";
import type { LoopContext } from "./loop-context.js";

export class ProviderCleanUp {
  /** each shard's clean-up under way or done: whether it succeeded */
  private readonly started = new Map<string, Promise<boolean>>();

  constructor(
    private readonly ctx: Pick<LoopContext, "provider" | "runId" | "emit" | "shards">,
    private readonly enabled: boolean,
  ) {}

  /** a shard was collected: its files are no longer needed */
  collected(shard: ShardRow): void {
    if (this.enabled && !this.started.has(shard.name)) this.started.set(shard.name, this.cleanUp(shard));
  }

  /** the run's end: every shard cleaned up (those collected already, once); how many were */
  async finish(): Promise<number> {
    let cleaned = 0;
    for (const shard of this.ctx.shards.values()) {
      const early = await this.started.get(shard.name);
      if (early === true || (early === undefined && (await this.cleanUp(shard)))) cleaned++;
    }
    return cleaned;
  }

  /** false: nothing to clean up, or it failed (a warning says so; the run goes on) */
  private async cleanUp(shard: ShardRow): Promise<boolean> {
    if (shard.staged === null && shard.batchId === null) return false;
    const batch = shard.batchId ? { id: shard.batchId, data: shard.batch?.data ?? null } : null;
    try {
      await this.ctx.provider.cleanUp({ staged: shard.staged, batch });
      return true;
    } catch (error) {
      this.ctx.emit({
        type: "warning",
        run: this.ctx.runId,
        message: `could not clean up shard ${shard.name} at the provider: ${(error as Error).message}`,
      });
      return false;
    }
  }
}
