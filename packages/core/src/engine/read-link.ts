/**
 * What the run loop knows of the read running beside it (streaming submission): whether more
 * shards may come, the read's failure, whether submissions wait for the whole estimate (max_cost)
 * and whether a shard's root may be collected yet (FanoutGate). It also ends the loop's sleep when
 * the read has news.
 */
import { setTimeout as delay } from "node:timers/promises";
import type { FanoutGate } from "./read/index.js";

export class ReadLink {
  /** the read runs: more shards may come */
  reading: boolean;
  private readonly holdSubmissions: boolean;
  private readonly gate: FanoutGate | undefined;
  private failure: { error: unknown } | undefined;
  private wakeUp: (() => void) | undefined;

  /** `o`: the run's source is still being read; undefined when the read has ended */
  constructor(o: { holdSubmissions: boolean; gate: FanoutGate } | undefined) {
    this.reading = o !== undefined;
    this.holdSubmissions = o?.holdSubmissions ?? false;
    this.gate = o?.gate;
  }

  ended(): void {
    this.reading = false;
    this.wake();
  }

  failed(error: unknown): void {
    this.failure = { error };
    this.wake();
  }

  /** throws the read's error */
  check(): void {
    if (this.failure) throw this.failure.error;
  }

  /** with max_cost nothing is submitted before the whole estimate is known */
  maySubmit(): boolean {
    return !(this.reading && this.holdSubmissions);
  }

  /** false while the read holds uncommitted fan-out rows of `root` (it checkpoints soon) */
  mayCollect(root: string): boolean {
    return !this.reading || this.gate === undefined || this.gate.close(root);
  }

  /** a collection mayCollect let begin has ended: a read waiting for its result goes on */
  collectionDone(root: string): void {
    this.gate?.collectionDone(root);
  }

  wake(): void {
    this.wakeUp?.();
  }

  /** `ms`, or less when the signal aborts or the read has news */
  async sleep(ms: number, signal: AbortSignal): Promise<void> {
    const stop = new AbortController();
    const woken = new Promise<void>((resolve) => {
      this.wakeUp = resolve;
    });
    await Promise.race([
      delay(ms, undefined, { signal: AbortSignal.any([signal, stop.signal]) }).catch(() => undefined),
      woken,
    ]);
    stop.abort();
    this.wakeUp = undefined;
  }
}
