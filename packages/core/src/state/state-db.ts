/**
 * Durable run state: one SQLite file (WAL) per pipeline name, `.batchpipe/<name>/state.db`.
 * It holds runs, shards (one row per batch attempt), the identical-request
 * fan-out, deliveries and sink checkpoints. Per-request data (request lines, inputs) stays in shard
 * files on disk so a 1M-record run keeps this database small. Never the API key.
 */
import { createHash } from "node:crypto";
import path from "node:path";
import Database from "better-sqlite3";
import { BatchpipeError } from "../errors.js";
import type { Checkpoint } from "../plugin.js";
import { makeStateDir, ownerOnly } from "./lock.js";
import { stateOpenFailed } from "./open-failure.js";
import { openReadOnly } from "./read-only.js";
import {
  migrate,
  type RawRun,
  type RawShard,
  SHARD_COLUMNS,
  shardParams,
  toColumn,
  toRun,
  toShard,
} from "./schema.js";
import {
  emptyCounters,
  type FanoutBatch,
  type FanoutRow,
  type RunCounters,
  type RunRow,
  type RunStatus,
  type RunTotals,
  type ShardRow,
} from "./types.js";

export interface StateStore {
  readonly dir: string;
  /** @internal (better-sqlite3 types stay out of the published .d.ts: stripInternal) */
  readonly db: Database.Database;
  /** meaningful: skip runs that were skipped or failed before submitting */
  latestRun(options?: { meaningful?: boolean }): RunRow | undefined;
  unfinishedRun(): RunRow | undefined;
  /** runs, newest first */
  runs(limit: number): RunRow[];
  getRun(id: string): RunRow | undefined;
  createRun(): RunRow;
  setRunStatus(id: string, status: RunStatus): void;
  requestCancel(id: string): void;
  /**
   * End of the read phase: shards (those a read checkpoint recorded stay as they are), the fan-out
   * still pending and totals in one transaction; the read checkpoint is dropped.
   */
  finishReading(id: string, options: { totals: RunTotals; shards: ShardRow[]; fanout?: FanoutBatch[] }): void;
  /** a read checkpoint: the shards sealed and the fan-out found since the last one, with `value` */
  saveReadCheckpoint(id: string, options: { value: string; shards: ShardRow[]; fanout: FanoutBatch[] }): void;
  /** the last read checkpoint's value (JSON), if the run's read phase recorded one */
  readCheckpoint(id: string): string | undefined;
  /** forget the run's shards, fan-out and read checkpoint: its read phase starts over */
  resetRun(id: string): void;
  insertFanout(runId: string, root: string, rows: FanoutRow[]): void;
  /** the record ids of the run's fan-out rows, streamed */
  fanoutIds(runId: string): IterableIterator<string>;
  fanoutFor(runId: string, root: string): FanoutRow[];
  shards(runId: string): ShardRow[];
  shard(runId: string, name: string): ShardRow | undefined;
  updateShard(runId: string, name: string, patch: Partial<ShardRow>): void;
  finishRun(id: string, status: Exclude<RunStatus, "reading" | "running">): void;
  sinkCheckpoint(sink: string): Checkpoint | undefined;
  /** a sink's checkpoint outside a delivery: where a fresh sink starts (see SinkSet.open) */
  recordSinkCheckpoint(sink: string, checkpoint: Checkpoint, key: string): void;
  delivered(key: string): boolean;
  /** the largest `end` of the delivered keys `${key}@${end}` (a delivery's parts), 0 without any */
  deliveredThrough(key: string): number;
  /**
   * The commit point of a delivery: sink checkpoints, counters, the shard's status and the retry
   * shard that follows it, all in one transaction.
   */
  recordDelivery(options: {
    runId: string;
    key: string;
    checkpoints: Record<string, Checkpoint>;
    counters: RunCounters;
    shard?: { name: string; patch: Partial<ShardRow> };
    retryShard?: ShardRow;
  }): void;
  saveCounters(runId: string, counters: RunCounters): void;
  getValue(key: string): string | undefined;
  setValue(key: string, value: string): void;
  close(): void;
}

/**
 * Open (creating if needed) the state database in `dir`. `keepVersion`: for commands that write
 * nothing a version-2 build lacks (cancel): an earlier version's file keeps its version, so the
 * build that wrote it can still finish its run (schema.ts). `readOnly`: for commands that only look
 * (status, runs, plan): the file must exist, and is neither changed nor made owner-only, so a
 * read-only state folder can be looked at.
 */
export function openState(
  dir: string,
  options: { keepVersion?: boolean; readOnly?: boolean } = {},
): StateStore {
  const file = path.join(dir, "state.db");
  if (options.readOnly) return createStore(dir, openToRead(file));
  makeStateDir(dir);
  let db: Database.Database;
  try {
    db = new Database(file);
    ownerOnly(file);
    db.pragma("journal_mode = WAL");
    // FULL: a commit that precedes a paid call (a submission's stage) survives a power loss
    db.pragma("synchronous = FULL");
    db.pragma("busy_timeout = 5000");
    migrate(db, file, { keepVersion: options.keepVersion === true });
    // the -wal and -shm files exist from here
    ownerOnly(file);
  } catch (error) {
    if (error instanceof BatchpipeError) throw error;
    throw stateOpenFailed("the state database", file, error);
  }
  return createStore(dir, db);
}

/** the state database opened to read only, its version checked (never changed) */
function openToRead(file: string): Database.Database {
  let db: Database.Database | undefined;
  try {
    db = openReadOnly(file);
    db.pragma("busy_timeout = 5000");
    migrate(db, file, { keepVersion: true });
    return db;
  } catch (error) {
    db?.close();
    if (error instanceof BatchpipeError) throw error;
    throw stateOpenFailed("the state database", file, error);
  }
}

/** the SubmissionTag.state of batches submitted from the state folder `dir`: its path, hashed */
export function stateTag(dir: string): string {
  return createHash("sha256").update(path.resolve(dir)).digest("hex").slice(0, 16);
}

/** the kv key of a run's read checkpoint (kv: no schema change for state files made before it) */
const readCheckpointKey = (runId: string) => `read-checkpoint:${runId}`;

function createStore(dir: string, db: Database.Database): StateStore {
  const insertShard = db.prepare(
    `INSERT INTO shards (${Object.values(SHARD_COLUMNS).join(", ")})
     VALUES (${Object.values(SHARD_COLUMNS)
       .map((c) => `@${c}`)
       .join(", ")})`,
  );
  const updateShard = (runId: string, name: string, patch: Partial<ShardRow>) => {
    const entries = Object.entries(patch).filter(([, v]) => v !== undefined);
    if (entries.length === 0) return;
    const sets = entries.map(([k]) => `${SHARD_COLUMNS[k as keyof ShardRow]} = ?`).join(", ");
    db.prepare(`UPDATE shards SET ${sets} WHERE run_id = ? AND name = ?`).run(
      ...entries.map(([k, v]) => toColumn(SHARD_COLUMNS[k as keyof ShardRow], v) as string | number | null),
      runId,
      name,
    );
  };
  const insertFanout = db.prepare(
    "INSERT INTO fanout (run_id, root, canonical, record_id, input, source) VALUES (?, ?, ?, ?, ?, ?)",
  );
  const insertShardOnce = db.prepare(
    `INSERT OR IGNORE INTO shards (${Object.values(SHARD_COLUMNS).join(", ")})
     VALUES (${Object.values(SHARD_COLUMNS)
       .map((c) => `@${c}`)
       .join(", ")})`,
  );
  const getValue = (key: string) =>
    (db.prepare("SELECT value FROM kv WHERE key = ?").get(key) as { value: string } | undefined)?.value;
  const setValue = (key: string, value: string) => {
    db.prepare(
      "INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
    ).run(key, value);
  };
  const saveCounters = (runId: string, counters: RunCounters) =>
    db.prepare("UPDATE runs SET counters = ? WHERE id = ?").run(JSON.stringify(counters), runId);

  return {
    dir,
    db,
    latestRun: (options) =>
      toRun(
        db
          .prepare(
            `SELECT * FROM runs ${options?.meaningful ? "WHERE status NOT IN ('skipped', 'failed')" : ""} ORDER BY seq DESC LIMIT 1`,
          )
          .get() as RawRun,
      ),
    unfinishedRun: () =>
      toRun(
        db
          .prepare("SELECT * FROM runs WHERE status IN ('reading', 'running') ORDER BY seq DESC LIMIT 1")
          .get() as RawRun,
      ),
    runs: (limit) =>
      (db.prepare("SELECT * FROM runs ORDER BY seq DESC LIMIT ?").all(limit) as RawRun[]).map(
        (raw) => toRun(raw)!,
      ),
    getRun: (id) => toRun(db.prepare("SELECT * FROM runs WHERE id = ?").get(id) as RawRun),
    createRun() {
      const seq = ((db.prepare("SELECT MAX(seq) AS m FROM runs").get() as { m: number | null }).m ?? 0) + 1;
      const id = `r${seq}-${Date.now().toString(36)}`;
      db.prepare(
        "INSERT INTO runs (id, seq, status, created_at, counters) VALUES (?, ?, 'reading', ?, ?)",
      ).run(id, seq, Date.now(), JSON.stringify(emptyCounters()));
      return toRun(db.prepare("SELECT * FROM runs WHERE id = ?").get(id) as RawRun)!;
    },
    setRunStatus: (id, status) => db.prepare("UPDATE runs SET status = ? WHERE id = ?").run(status, id),
    requestCancel: (id) => db.prepare("UPDATE runs SET cancel_requested = 1 WHERE id = ?").run(id),
    finishReading: db.transaction(
      (id: string, options: { totals: RunTotals; shards: ShardRow[]; fanout?: FanoutBatch[] }) => {
        for (const shard of options.shards) insertShardOnce.run(shardParams(shard));
        for (const { root, rows } of options.fanout ?? [])
          for (const row of rows)
            insertFanout.run(id, root, row.canonical, row.recordId, row.input, row.source);
        db.prepare("DELETE FROM kv WHERE key = ?").run(readCheckpointKey(id));
        db.prepare("UPDATE runs SET status = 'running', totals = ? WHERE id = ?").run(
          JSON.stringify(options.totals),
          id,
        );
      },
    ),
    saveReadCheckpoint: db.transaction(
      (id: string, options: { value: string; shards: ShardRow[]; fanout: FanoutBatch[] }) => {
        for (const shard of options.shards) insertShardOnce.run(shardParams(shard));
        for (const { root, rows } of options.fanout)
          for (const row of rows)
            insertFanout.run(id, root, row.canonical, row.recordId, row.input, row.source);
        setValue(readCheckpointKey(id), options.value);
      },
    ),
    readCheckpoint: (id) => getValue(readCheckpointKey(id)),
    resetRun: db.transaction((id: string) => {
      db.prepare("DELETE FROM shards WHERE run_id = ?").run(id);
      db.prepare("DELETE FROM fanout WHERE run_id = ?").run(id);
      db.prepare("DELETE FROM kv WHERE key = ?").run(readCheckpointKey(id));
      db.prepare("UPDATE runs SET status = 'reading', totals = NULL, counters = ? WHERE id = ?").run(
        JSON.stringify(emptyCounters()),
        id,
      );
    }),
    insertFanout: db.transaction((runId: string, root: string, rows: FanoutRow[]) => {
      for (const row of rows)
        insertFanout.run(runId, root, row.canonical, row.recordId, row.input, row.source);
    }),
    fanoutIds: (runId) =>
      db
        .prepare("SELECT record_id FROM fanout WHERE run_id = ?")
        .pluck()
        .iterate(runId) as IterableIterator<string>,
    fanoutFor: (runId, root) =>
      (
        db
          .prepare("SELECT canonical, record_id, input, source FROM fanout WHERE run_id = ? AND root = ?")
          .all(runId, root) as { canonical: string; record_id: string; input: string; source: string }[]
      ).map((r) => ({ canonical: r.canonical, recordId: r.record_id, input: r.input, source: r.source })),
    shards: (runId) =>
      (db.prepare("SELECT * FROM shards WHERE run_id = ? ORDER BY seq").all(runId) as RawShard[]).map(
        toShard,
      ),
    shard: (runId, name) => {
      const raw = db.prepare("SELECT * FROM shards WHERE run_id = ? AND name = ?").get(runId, name) as
        | RawShard
        | undefined;
      return raw && toShard(raw);
    },
    updateShard,
    finishRun: (id, status) => {
      db.prepare("UPDATE runs SET status = ?, finished_at = ? WHERE id = ?").run(status, Date.now(), id);
    },
    sinkCheckpoint: (sink) => {
      const row = db.prepare("SELECT checkpoint FROM sink_checkpoints WHERE sink = ?").get(sink) as
        | { checkpoint: string }
        | undefined;
      return row ? (JSON.parse(row.checkpoint) as Checkpoint) : undefined;
    },
    recordSinkCheckpoint: (sink, checkpoint, key) => {
      db.prepare(
        "INSERT INTO sink_checkpoints (sink, checkpoint, key) VALUES (?, ?, ?) ON CONFLICT(sink) DO UPDATE SET checkpoint = excluded.checkpoint, key = excluded.key",
      ).run(sink, JSON.stringify(checkpoint ?? null), key);
    },
    delivered: (key) => db.prepare("SELECT 1 FROM deliveries WHERE key = ?").get(key) !== undefined,
    deliveredThrough: (key) => {
      // the keys from `key@` to `key@:` (':' sorts right after the digits): a range of the primary key
      const rows = db
        .prepare("SELECT key FROM deliveries WHERE key >= ? AND key < ?")
        .all(`${key}@`, `${key}@:`) as { key: string }[];
      return rows.reduce((most, row) => Math.max(most, Number(row.key.slice(key.length + 1)) || 0), 0);
    },
    recordDelivery: db.transaction(
      (options: {
        runId: string;
        key: string;
        checkpoints: Record<string, Checkpoint>;
        counters: RunCounters;
        shard?: { name: string; patch: Partial<ShardRow> };
        retryShard?: ShardRow;
      }) => {
        const setCheckpoint = db.prepare(
          "INSERT INTO sink_checkpoints (sink, checkpoint, key) VALUES (?, ?, ?) ON CONFLICT(sink) DO UPDATE SET checkpoint = excluded.checkpoint, key = excluded.key",
        );
        for (const [sink, checkpoint] of Object.entries(options.checkpoints)) {
          setCheckpoint.run(sink, JSON.stringify(checkpoint ?? null), options.key);
        }
        db.prepare("INSERT INTO deliveries (key, run_id, delivered_at) VALUES (?, ?, ?)").run(
          options.key,
          options.runId,
          Date.now(),
        );
        saveCounters(options.runId, options.counters);
        if (options.shard) updateShard(options.runId, options.shard.name, options.shard.patch);
        if (options.retryShard) insertShard.run(shardParams(options.retryShard));
      },
    ),
    saveCounters,
    getValue,
    setValue,
    close: () => db.close(),
  };
}
