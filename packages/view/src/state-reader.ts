/**
 * Read-only access to a pipeline's state folder: `state.db` through a SQLite connection opened
 * readonly (WAL lets it read while a run writes; the run lock is never taken). The database may not
 * exist yet when the viewer starts: it is opened on the first request after a run created it.
 */
import fs from "node:fs";
import path from "node:path";
import {
  LEARNED_BUDGETS,
  type LockHolder,
  lockHolder,
  openSqliteToRead,
  type RawRun,
  type RawShard,
  type RunRow,
  refuseVersion,
  type ShardRow,
  type ShardStatus,
  schemaVersion,
  toRun,
  toShard,
} from "@batchpipe/core";
import type Database from "better-sqlite3";

/** a shard's columns a run's page counts with (the engine sets batchStatus with the batch snapshot) */
export type ShardFact = Pick<
  ShardRow,
  | "name"
  | "root"
  | "attempt"
  | "model"
  | "endpoint"
  | "requests"
  | "tokens"
  | "outputTokens"
  | "status"
  | "batchId"
  | "batchStatus"
>;

export class StateReader {
  private db: Database.Database | undefined;

  constructor(readonly dir: string) {}

  /** null while no run has created the state database (or while the first one is creating it) */
  private open(): Database.Database | null {
    if (this.db) return this.db;
    const file = path.join(this.dir, "state.db");
    if (!fs.existsSync(file)) return null;
    // in a folder this user cannot write, a file closed cleanly is read from a copy (core's state/read-only.ts)
    const db = openSqliteToRead<Database.Database>(file);
    db.pragma("busy_timeout = 2000");
    // a first run is creating the database: no run yet until it has written its schema version
    const hasMeta = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").get();
    const version = hasMeta ? schemaVersion(db) : undefined;
    if (version === undefined) {
      db.close();
      return null;
    }
    const refused = refuseVersion(file, version, "View it with the batchpipe version that created it.");
    if (refused) {
      db.close();
      throw refused;
    }
    this.db = db;
    return db;
  }

  /** the runs, newest first: `limit` of them from the `offset`th on */
  runs({ offset, limit }: { offset: number; limit: number }): RunRow[] {
    const db = this.open();
    if (!db) return [];
    return (
      db.prepare("SELECT * FROM runs ORDER BY seq DESC LIMIT ? OFFSET ?").all(limit, offset) as RawRun[]
    ).map((raw) => toRun(raw)!);
  }

  runCount(): number {
    const row = this.open()?.prepare("SELECT COUNT(*) AS n FROM runs").get() as { n: number } | undefined;
    return row?.n ?? 0;
  }

  run(id: string): RunRow | undefined {
    return toRun(this.open()?.prepare("SELECT * FROM runs WHERE id = ?").get(id) as RawRun | undefined);
  }

  /**
   * what a run's page counts of each of the run's shards (not what the provider staged, nor the
   * batch snapshot): a poll reads them all, cheaply, at thousands of shards
   */
  shardFacts(runId: string): ShardFact[] {
    const db = this.open();
    if (!db) return [];
    return (
      db
        .prepare(
          `SELECT name, root, attempt, model, endpoint, requests, tokens, output_tokens AS outputTokens,
             status, batch_id AS batchId, batch_status AS batchStatus
           FROM shards WHERE run_id = ? ORDER BY seq`,
        )
        .all(runId) as ShardFact[]
    ).map((fact) => ({ ...fact, status: fact.status as ShardStatus }));
  }

  /** the run's shards whole, in order (a run's page reads shardFacts and a shardPage) */
  shards(runId: string): ShardRow[] {
    const db = this.open();
    if (!db) return [];
    return (db.prepare("SELECT * FROM shards WHERE run_id = ? ORDER BY seq").all(runId) as RawShard[]).map(
      toShard,
    );
  }

  /** `limit` of the run's shards whole, in order, from the `offset`th on */
  shardPage(runId: string, offset: number, limit: number): ShardRow[] {
    const db = this.open();
    if (!db) return [];
    return (
      db
        .prepare("SELECT * FROM shards WHERE run_id = ? ORDER BY seq LIMIT ? OFFSET ?")
        .all(runId, limit, offset) as RawShard[]
    ).map(toShard);
  }

  /** the run's shards that sent the batch `batchId` (a queue refusal's retry reuses none) */
  shardsOfBatch(runId: string, batchId: string): ShardRow[] {
    const db = this.open();
    if (!db) return [];
    return (
      db
        .prepare("SELECT * FROM shards WHERE run_id = ? AND batch_id = ? ORDER BY seq")
        .all(runId, batchId) as RawShard[]
    ).map(toShard);
  }

  /**
   * the queue budgets the runs learnt from the provider's refusals, by queue (a model, or "*" for
   * the account): the kv value core's engine keeps under LEARNED_BUDGETS
   */
  learnedBudgets(): Record<string, number> {
    const row = this.open()?.prepare("SELECT value FROM kv WHERE key = ?").get(LEARNED_BUDGETS) as
      | { value: string }
      | undefined;
    return row ? (JSON.parse(row.value) as Record<string, number>) : {};
  }

  /** shard deliveries (not their parts) with when they were committed */
  deliveries(runId: string): { key: string; at: number }[] {
    const db = this.open();
    if (!db) return [];
    return (
      db
        .prepare("SELECT key, delivered_at AS at FROM deliveries WHERE run_id = ? ORDER BY delivered_at")
        .all(runId) as { key: string; at: number }[]
    ).filter((d) => !d.key.includes("#"));
  }

  /**
   * every run's last checkpoint of the sink `slot` (`sinks[0]:jsonl`), oldest run first: a run has
   * one from when it opened the sink (its starting point, under the key `<sink>|open`) on; each
   * delivery replaces it
   */
  sinkCheckpoints(slot: string): { runId: string; checkpoint: unknown; opened: boolean }[] {
    const db = this.open();
    if (!db) return [];
    const rows = db
      .prepare(
        `SELECT r.id AS runId, s.checkpoint, s.key FROM sink_checkpoints s JOIN runs r ON s.sink = r.id || '|' || ?
         ORDER BY r.seq`,
      )
      .all(slot) as { runId: string; checkpoint: string; key: string }[];
    return rows.map((row) => ({
      runId: row.runId,
      checkpoint: JSON.parse(row.checkpoint),
      opened: row.key.endsWith("|open"),
    }));
  }

  /** the runs `batchpipe watch` started (one per file group, each carrying its sinks on from the one before) */
  watchRuns(): Set<string> {
    const file = path.join(this.dir, "watch", "watch.db");
    if (!fs.existsSync(file)) return new Set();
    const db = openSqliteToRead<Database.Database>(file);
    try {
      db.pragma("busy_timeout = 2000");
      // a watcher starting up has created the file but maybe not yet its tables
      if (!db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'groups'").get()) {
        return new Set();
      }
      const rows = db.prepare("SELECT run_id FROM groups WHERE run_id IS NOT NULL").all() as {
        run_id: string;
      }[];
      return new Set(rows.map((row) => row.run_id));
    } finally {
      db.close();
    }
  }

  /** whether a process runs the pipeline (holds its lock, or a watcher's), read without taking the lock */
  running(): boolean {
    return this.holder() !== null;
  }

  /**
   * the process running the pipeline, and how: `run`, or `watch` (a watcher holds its own lock in
   * watch/ while it waits for files, the run lock only while a file group runs); its pid is null
   * while it starts (lockHolder)
   */
  holder(): LockHolder | null {
    return lockHolder(this.dir) ?? lockHolder(path.join(this.dir, "watch")) ?? null;
  }

  close(): void {
    this.db?.close();
    this.db = undefined;
  }
}
