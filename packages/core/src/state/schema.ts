/**
 * The state database's tables, its version check, and how a run or shard row maps to its columns.
 * A table or column added here needs a new STATE_SCHEMA_VERSION: a state file of another version is
 * refused, not migrated. One removed does not: this version neither reads nor writes it, so a file
 * that still has it works as before (runs.fingerprint and the datasets table, issue 17). The other
 * way round is not checked: an earlier build fails on a file made without them.
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

export const STATE_SCHEMA_VERSION = 2;

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

export function migrate(db: Database.Database, file: string): void {
  const hasMeta = db.prepare("SELECT name FROM sqlite_master WHERE type='table' AND name='meta'").get();
  if (hasMeta) {
    const row = db.prepare("SELECT value FROM meta WHERE key='schema_version'").get() as
      | { value: string }
      | undefined;
    const version = Number(row?.value);
    if (version !== STATE_SCHEMA_VERSION) {
      throw new BatchpipeError(
        ErrorCodes.STATE_FAILED,
        `the state database ${file} has schema version ${row?.value ?? "?"}, this batchpipe reads version ${STATE_SCHEMA_VERSION}`,
        { hint: "Use the batchpipe version that created it, or point --state-dir at a fresh folder." },
      );
    }
    return;
  }
  db.exec(SCHEMA);
  db.prepare("INSERT INTO meta (key, value) VALUES ('schema_version', ?)").run(String(STATE_SCHEMA_VERSION));
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
      counters: { ...emptyCounters(), ...(JSON.parse(raw.counters) as Partial<RunCounters>) },
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
