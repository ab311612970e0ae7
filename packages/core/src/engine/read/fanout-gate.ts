/**
 * Identical requests while the run loop collects (streaming submission). A fan-out row rides with
 * its root shard's collection, so a root must not be collected while the read holds rows for it
 * that no checkpoint committed yet, and the read must not fan out to a root whose collection has
 * begun (such a request is placed again: sent once more, it roots later identical ones).
 */
import type { FanoutBatch, FanoutRow, ShardRow } from "../../state/index.js";

export class FanoutGate {
  /** roots whose collection has begun */
  private readonly closed = new Set<string>();
  /** fan-out rows not yet committed, per root */
  private readonly pending = new Map<string, number>();
  /** a collection waits for these rows: the read checkpoints after its next record */
  wantCheckpoint = false;

  /** `shards`: the run's shards in the state (those past `open` have begun their collection) */
  constructor(shards: readonly ShardRow[] = []) {
    for (const s of shards) if (s.status === "ended" || s.status === "collected") this.closed.add(s.root);
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
    return true;
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
