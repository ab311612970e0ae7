/**
 * Identical requests while the run loop collects (streaming submission). A fan-out row rides with
 * its root shard's collection, so a root must not be collected while the read holds rows for it
 * that no checkpoint committed yet, and the read must not fan out to a root whose collection has
 * begun: such a request waits for that collection to end (whileCollecting), and is then answered
 * from the result cache, or sent once more if the root's result is not there.
 */
import type { FanoutBatch, FanoutRow, ShardRow } from "../../state/index.js";
import { interrupted } from "./read-errors.js";

export class FanoutGate {
  /** roots whose collection has begun */
  private readonly closed = new Set<string>();
  /** fan-out rows not yet committed, per root */
  private readonly pending = new Map<string, number>();
  /** a collection waits for these rows: the read checkpoints after its next record */
  wantCheckpoint = false;
  /** roots being collected: settles when the collection ends (collectionDone) */
  private readonly collecting = new Map<string, { done: Promise<void>; settle(): void }>();

  /** `shards`: the run's shards in the state (those past `open` have begun their collection) */
  constructor(shards: readonly ShardRow[] = []) {
    for (const s of shards) {
      if (s.status !== "ended" && s.status !== "collected") continue;
      this.closed.add(s.root);
      // ended before a crash, collected after the resume: a read's twin of it waits for that
      if (s.status === "ended") this.expectCollection(s.root);
    }
  }

  canFanOut(root: string): boolean {
    return !this.closed.has(root);
  }

  added(root: string): void {
    this.pending.set(root, (this.pending.get(root) ?? 0) + 1);
  }

  /** a checkpoint (or the read's end) committed these rows */
  committed(fanout: readonly FanoutBatch[]): void {
    for (const { root, rows } of fanout) {
      const left = (this.pending.get(root) ?? 0) - rows.length;
      if (left > 0) this.pending.set(root, left);
      else this.pending.delete(root);
    }
    if (this.pending.size === 0) this.wantCheckpoint = false;
  }

  /** the loop is about to collect a shard of `root`: false (and a checkpoint asked) while rows wait */
  close(root: string): boolean {
    if ((this.pending.get(root) ?? 0) > 0) {
      this.wantCheckpoint = true;
      return false;
    }
    this.closed.add(root);
    this.expectCollection(root);
    return true;
  }

  private expectCollection(root: string): void {
    if (this.collecting.has(root)) return;
    let settle = () => {};
    const done = new Promise<void>((resolve) => {
      settle = resolve;
    });
    this.collecting.set(root, { done, settle });
  }

  /** the collection close() let begin has ended (delivered, failed or stopped) */
  collectionDone(root: string): void {
    this.collecting.get(root)?.settle();
    this.collecting.delete(root);
  }

  /**
   * settles when the collection of `root` under way ends; undefined when none is. Rejects when
   * `signal` (the read's) aborts: a collection that never comes (the run failed) must not hold the read.
   */
  whileCollecting(root: string, signal: AbortSignal): Promise<void> | undefined {
    const done = this.collecting.get(root)?.done;
    if (!done) return undefined;
    if (signal.aborted) return Promise.reject(interrupted());
    return new Promise((resolve, reject) => {
      const stop = () => reject(interrupted());
      signal.addEventListener("abort", stop, { once: true });
      void done.then(() => {
        signal.removeEventListener("abort", stop);
        resolve();
      });
    });
  }
}

/** identical requests found since the last checkpoint (at most checkpointEvery rows), by root shard */
export class FanoutRows {
  private rows = new Map<string, FanoutRow[]>();

  add(root: string, row: FanoutRow): void {
    const rows = this.rows.get(root);
    if (rows) rows.push(row);
    else this.rows.set(root, [row]);
  }

  take(): FanoutBatch[] {
    const out = [...this.rows].map(([root, rows]) => ({ root, rows }));
    this.rows = new Map();
    return out;
  }
}
