/**
 * What a run leaves behind (batch.clean_up). As soon as a shard is collected, beside the rest of
 * the run, its uploaded and result files at the provider go, and so does its local request file
 * (its retry shard, if any, is written by then); the run's end takes care of what is left (shards
 * that ended without a collection, a clean-up that failed, shards collected before a crash) and of
 * the run's local folder. A long run so keeps only its unfinished shards' files at the provider
 * (Azure OpenAI allows 500 files; a run of a million records makes 80 shards), and less on disk (a
 * 1M bench run's state folder peaked at 632 MB instead of 1,050). A collected shard's meta file
 * goes once the read has ended too: until then a resumed read rebuilds its duplicate tables from
 * the meta files.
 */
import fs from "node:fs";
import path from "node:path";
import type { ShardRow } from "../state/index.js";
import { type LoopContext, providerCall } from "./loop-context.js";
import { partLogFile } from "./part-log.js";
import { interrupted } from "./read/index.js";

export class ShardCleanUp {
  /** each collected shard's clean-up at the provider, under way or done: whether it succeeded */
  private readonly started = new Map<string, Promise<boolean>>();
  /** stops the clean-ups under way when the run fails (abandon) */
  private readonly stop = new AbortController();

  constructor(
    private readonly ctx: LoopContext,
    private readonly enabled: boolean,
    /** the run's source is still being read: a resumed read would rebuild its tables from the meta files */
    private reading: boolean,
  ) {}

  /** a shard was collected: its files are no longer needed */
  collected(shard: ShardRow): void {
    if (!this.enabled || this.started.has(shard.name)) return;
    this.remove(shard.file);
    this.remove(partLogFile(shard.file));
    if (!this.reading) this.remove(shard.metaFile);
    this.started.set(shard.name, this.cleanUp(shard));
  }

  /** the read ended: the collected shards' meta files go, and later ones' as they are collected */
  readEnded(): void {
    this.reading = false;
    for (const name of this.started.keys()) {
      const shard = this.ctx.shards.get(name);
      if (shard) this.remove(shard.metaFile);
    }
  }

  /**
   * the run's end: every shard cleaned up at the provider (those collected already, once), then the
   * run's local folder; how many shards were cleaned up. A stop meanwhile interrupts the run, whose
   * next start cleans up what is left.
   */
  async finish(): Promise<number> {
    let cleaned = 0;
    for (const shard of this.ctx.shards.values()) {
      const early = await this.started.get(shard.name);
      if (early === true || (early === undefined && (await this.cleanUp(shard)))) cleaned++;
    }
    if (this.ctx.signal.aborted) throw interrupted();
    this.remove(this.ctx.runId);
    return cleaned;
  }

  /**
   * The run failed: the clean-ups under way stop (their retries could outlast the run by up to
   * batch.max_outage, and the in-process emulator closes under them); the next start cleans up
   * what is left, as after a stop.
   */
  async abandon(): Promise<void> {
    this.stop.abort();
    await Promise.all(this.started.values());
  }

  /** a file or folder of the state folder */
  private remove(file: string): void {
    fs.rmSync(path.join(this.ctx.stateDir, file), { recursive: true, force: true });
  }

  /** false: nothing to clean up, or it failed (a warning says so; the run goes on) */
  private async cleanUp(shard: ShardRow): Promise<boolean> {
    if (shard.staged === null && shard.batchId === null) return false;
    const batch = shard.batchId ? { id: shard.batchId, data: shard.batch?.data ?? null } : null;
    try {
      // its retries stop at batch.max_outage, as every provider call's of the run
      await providerCall(
        this.ctx,
        (signal) => this.ctx.provider.cleanUp({ staged: shard.staged, batch }, { signal }),
        AbortSignal.any([this.ctx.signal, this.stop.signal]),
      );
      return true;
    } catch (error) {
      // a stop or the run's failure cut it short: the run's end (this run resumed) cleans up what is left
      if (this.ctx.signal.aborted || this.stop.signal.aborted) return false;
      this.ctx.emit({
        type: "warning",
        run: this.ctx.runId,
        message: `could not clean up shard ${shard.name} at the provider: ${(error as Error).message}`,
      });
      return false;
    }
  }
}
