/**
 * The state database's tables, its version check, and how a run or shard row maps to its columns.
 * A table or column added or removed here needs a new STATE_SCHEMA_VERSION: a build refuses a state
 * file of a version it does not know (a clear STATE_FAILED), it does not migrate it.
 *
 * Version 3 is version 2 without runs.fingerprint and the datasets table (issue 17). This build opens
 * both: it neither reads nor writes what 3 removed, so a version-2 file that still has them works as
 * before. Opening one for a run marks it 3, because from then on it holds runs without a fingerprint
 * and read checkpoints without the chain, which a build from before issue 17 (reads 2 only) would
 * misread or fail on ("no such column: fingerprint"); that build now refuses it by its version.
 * `status`, `runs` and `cancel` leave its version as it is.
 */
import type Database from "better-sqlite3";
import { BatchpipeError, ErrorCodes } from "../errors.js";
import {
  emptyCounters,
  type RunCounters,
  type RunRow,
  type RunStatus,
  type RunTotals,
  type ShardRow,
  type ShardStatus,
} from "./types.js";

/** the version of the state files this build creates */
export const STATE_SCHEMA_VERSION = 3;

/** the versions this build opens; an earlier one is marked STATE_SCHEMA_VERSION when opened for a run */
export const STATE_SCHEMA_VERSIONS_READ: readonly number[] = [2, STATE_SCHEMA_VERSION];

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
  id TEXT PRIMARY KEY, seq INTEGER NOT NULL, status TEXT NOT NULL, created_at INTEGER NOT NULL,
  finished_at INTEGER, cancel_requested INTEGER NOT NULL DEFAULT 0, totals TEXT, counters TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS shards (
  run_id TEXT NOT NULL, name TEXT NOT NULL, seq INTEGER NOT NULL, root TEXT NOT NULL, attempt INTEGER NOT NULL,
  model TEXT NOT NULL, endpoint TEXT NOT NULL, file TEXT NOT NULL, meta_file TEXT NOT NULL,
  requests INTEGER NOT NULL, bytes INTEGER NOT NULL, tokens INTEGER NOT NULL, output_tokens INTEGER NOT NULL,
  status TEXT NOT NULL, submission INTEGER NOT NULL DEFAULT 0, staged TEXT, batch_id TEXT, batch_status TEXT,
  created_at INTEGER, batch TEXT, PRIMARY KEY (run_id, name));
CREATE TABLE IF NOT EXISTS fanout (run_id TEXT NOT NULL, root TEXT NOT NULL, canonical TEXT NOT NULL,
  record_id TEXT NOT NULL, input TEXT NOT NULL, source TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS fanout_root ON fanout (run_id, root);
CREATE TABLE IF NOT EXISTS deliveries (key TEXT PRIMARY KEY, run_id TEXT NOT NULL, delivered_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS sink_checkpoints (sink TEXT PRIMARY KEY, checkpoint TEXT NOT NULL, key TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL);
`;

/**
 * `keepVersion` false: an earlier version this build opens is marked STATE_SCHEMA_VERSION (it will
 * write runs); true: left as it is (openState's option)
 * @internal (better-sqlite3 types stay out of the published .d.ts: stripInternal)
 */
export function migrate(db: Database.Database, file: string, o: { keepVersion: boolean }): void {
  const hasMeta = db.prepare("SELECT name FROM sqlite_master WHERE type='table' AND name='meta'").get();
  if (hasMeta && (db.readonly || !unfinishedCreation(db))) {
    const version = schemaVersion(db);
    const refused = refuseVersion(
      file,
      version,
      "Use the batchpipe version that created it, or point --state-dir (from code: the stateDir option, workConfig.state_dir) at a fresh folder.",
    );
    if (refused) throw refused;
    if (!o.keepVersion && Number(version) !== STATE_SCHEMA_VERSION)
      db.prepare("UPDATE meta SET value = ? WHERE key = 'schema_version'").run(String(STATE_SCHEMA_VERSION));
    return;
  }
  // one transaction: a process killed while it creates the file leaves no half-made schema
  db.transaction(() => {
    db.exec(SCHEMA);
    db.prepare("INSERT INTO meta (key, value) VALUES ('schema_version', ?)").run(
      String(STATE_SCHEMA_VERSION),
    );
  })();
}

/**
 * A file whose creation a killed process left half done (a build that created the tables one by
 * one): a meta table without a version, and no run. Its tables are made anew (CREATE IF NOT EXISTS).
 */
function unfinishedCreation(db: Database.Database): boolean {
  if (schemaVersion(db) !== undefined) return false;
  const hasRuns = db.prepare("SELECT name FROM sqlite_master WHERE type='table' AND name='runs'").get();
  return !hasRuns || db.prepare("SELECT 1 FROM runs LIMIT 1").get() === undefined;
}

/**
 * What schemaVersion reads through: a better-sqlite3 Database (typed by its shape, so that the
 * published .d.ts need not import better-sqlite3's types, which a user's project may not have).
 */
export interface SqliteReader {
  prepare(sql: string): { get(...params: unknown[]): unknown };
}

/** the schema version a state database records (undefined if none) */
export function schemaVersion(db: SqliteReader): string | undefined {
  const row = db.prepare("SELECT value FROM meta WHERE key = 'schema_version'").get() as
    | { value: string }
    | undefined;
  return row?.value;
}

/** the STATE_FAILED error refusing a state file of `version`; undefined if this build reads it */
export function refuseVersion(
  file: string,
  version: string | undefined,
  hint: string,
): BatchpipeError | undefined {
  if (STATE_SCHEMA_VERSIONS_READ.includes(Number(version))) return undefined;
  return new BatchpipeError(
    ErrorCodes.STATE_FAILED,
    `the state database ${file} has schema version ${version ?? "?"}, this batchpipe reads version ${STATE_SCHEMA_VERSIONS_READ.join(" or ")}`,
    { hint },
  );
}

export interface RawRun {
  id: string;
  seq: number;
  status: RunStatus;
  created_at: number;
  finished_at: number | null;
  cancel_requested: number;
  totals: string | null;
  counters: string;
}

export interface RawShard {
  run_id: string;
  name: string;
  seq: number;
  root: string;
  attempt: number;
  model: string;
  endpoint: string;
  file: string;
  meta_file: string;
  requests: number;
  bytes: number;
  tokens: number;
  output_tokens: number;
  status: ShardStatus;
  submission: number;
  /** JSON */
  staged: string | null;
  batch_id: string | null;
  batch_status: string | null;
  created_at: number | null;
  /** JSON of a BatchSnapshot */
  batch: string | null;
}

export const SHARD_COLUMNS: Record<keyof ShardRow, keyof RawShard> = {
  runId: "run_id",
  name: "name",
  seq: "seq",
  root: "root",
  attempt: "attempt",
  model: "model",
  endpoint: "endpoint",
  file: "file",
  metaFile: "meta_file",
  requests: "requests",
  bytes: "bytes",
  tokens: "tokens",
  outputTokens: "output_tokens",
  status: "status",
  submission: "submission",
  staged: "staged",
  batchId: "batch_id",
  batchStatus: "batch_status",
  createdAt: "created_at",
  batch: "batch",
};

/** the shard columns that hold JSON */
const JSON_COLUMNS = new Set<keyof RawShard>(["staged", "batch"]);

/** a shard field's value as its column holds it */
export function toColumn(column: keyof RawShard, value: unknown): unknown {
  if (!JSON_COLUMNS.has(column)) return value;
  return value === null || value === undefined ? null : JSON.stringify(value);
}

export function toRun(raw: RawRun | undefined): RunRow | undefined {
  return (
    raw && {
      id: raw.id,
      seq: raw.seq,
      status: raw.status,
      createdAt: raw.created_at,
      finishedAt: raw.finished_at,
      cancelRequested: raw.cancel_requested === 1,
      totals: raw.totals ? (JSON.parse(raw.totals) as RunTotals) : null,
      counters: storedCounters(raw.counters),
    }
  );
}

export function toShard(raw: RawShard): ShardRow {
  const out = {} as Record<string, unknown>;
  for (const [key, column] of Object.entries(SHARD_COLUMNS)) {
    const value = raw[column];
    out[key] = JSON_COLUMNS.has(column) && value !== null ? JSON.parse(value as string) : value;
  }
  return out as unknown as ShardRow;
}

/** a shard row as named parameters (`@column`) of a statement */
export function shardParams(row: ShardRow): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, column] of Object.entries(SHARD_COLUMNS))
    out[column] = toColumn(column, row[key as keyof ShardRow]);
  return out;
}

/**
 * A run's counters as stored (those a version did not know read as none). The total of cut answers
 * one version kept beside cutByReason is dropped: it is their sum, derived where it is shown.
 */
function storedCounters(json: string): RunCounters {
  const { cut: _derived, ...stored } = JSON.parse(json) as Partial<RunCounters> & { cut?: unknown };
  return { ...emptyCounters(), ...stored };
}
