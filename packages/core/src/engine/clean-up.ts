/**
 * What a run leaves behind (batch.clean_up). As soon as a shard is collected, beside the rest of
 * the run, its uploaded and result files at the provider go, and so does its local request file
 * (its retry shard, if any, is written by then); the run's end takes care of what is left (shards
 * that ended without a collection, a clean-up that failed, shards collected before a crash) and of
 * the run's local folder. A long run so keeps only its unfinished shards' files at the provider
 * (Azure OpenAI allows 500 files; a run of a million records makes 80 shards), and less on disk (a
 * 1M bench run's state folder peaked at 632 MB instead of 1,050). The meta files stay until the
 * end: a resumed read rebuilds its duplicate tables from them.
 */
import fs from "node:fs";
import path from "node:path";
import type { ShardRow } from "../state/index.js";
import type { LoopContext } from "./loop-context.js";

export class ShardCleanUp {
  /** each shard's clean-up under way or done: whether it succeeded */
  private readonly started = new Map<string, Promise<boolean>>();

  constructor(
    private readonly ctx: Pick<LoopContext, "provider" | "runId" | "emit" | "shards" | "stateDir">,
    private readonly enabled: boolean,
  ) {}

  /** a shard was collected: its files are no longer needed */
  collected(shard: ShardRow): void {
    if (!this.enabled || this.started.has(shard.name)) return;
    fs.rmSync(path.join(this.ctx.stateDir, shard.file), { force: true });
    this.started.set(shard.name, this.cleanUp(shard));
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
