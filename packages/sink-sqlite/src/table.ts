/**
 * The sqlite sink's database side: the rows' column values, tables, the shared connection per file,
 * the write transaction and the commit records. Everything here is synchronous (better-sqlite3), on
 * the caller's thread.
 */
import { realpathSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { BatchpipeError, type Checkpoint, type ResultRow } from "@batchpipe/core/plugin";
import Database from "better-sqlite3";

const COLUMNS = [
  "id",
  "status",
  "output",
  "response",
  "usage",
  "model",
  "batch_id",
  "attempts",
  "input",
  "error",
  "source_file",
  "source_line",
  "created_at",
] as const;

/** the columns bound per row (created_at is one named parameter per statement) */
const BOUND = COLUMNS.length - 1;
/**
 * Rows per INSERT statement: one better-sqlite3 call costs ~1 µs whatever it carries, so 16 rows
 * per call cut the sink's CPU per row by about a fifth (bench/plugins-sinks.js).
 */
const ROWS_PER_STATEMENT = 16;
/** created_at, bound once per statement (strftime for each row cost ~1 µs a row) */
const NOW = "@now";
/**
 * Columns that rows of one delivery usually share (status, model, batch_id, attempts, error,
 * source_file), by their place in a row's values: when the rows of a statement agree on them they
 * are bound once, as named parameters. Binding is most of better-sqlite3's cost per row.
 */
const SHARED = [1, 5, 6, 7, 9, 10] as const;
/** the other bound columns, bound per row */
const OWN = [0, 2, 3, 4, 8, 11] as const;

type Value = string | number | null;

/**
 * The sinks of this process on one database file share ONE connection, so they share its write
 * transaction. With a connection each, the transaction a results sink holds from its first write
 * to its commit would lock out an errors sink on the same file (SQLite has one writer at a time)
 * until busy_timeout fails it. Sharing means a sink's commit also makes the other sinks' written
 * rows durable before their own commit records, which the upsert makes harmless (see the top).
 */
interface Connection {
  key: string;
  db: Database.Database;
  users: number;
  /** the open sink of each table */
  tables: Map<string, TableState>;
}

interface TableState {
  /** it has work in the open transaction (rows, or its restore at open) */
  dirty: boolean;
  /** why its calls now fail: a newer open rolled back its uncommitted work */
  broken: string | undefined;
}

const connections = new Map<string, Connection>();

function acquireConnection(path: string): Connection {
  // one key per file, whatever path spelling reaches it (the folder exists: open created it)
  const key = join(realpathSync(dirname(path)), basename(path));
  let connection = connections.get(key);
  if (!connection) {
    const db = new Database(path);
    try {
      // rows carry whole response bodies (~1 KB): bigger pages mean fewer splits and overflow
      // pages; this only takes effect when the database is created
      db.pragma("page_size = 16384");
      db.pragma("journal_mode = WAL");
      // FULL: COMMIT fsyncs the WAL. In WAL mode NORMAL may lose the last commits on power loss
      // after the engine recorded their checkpoints, which would lose rows
      db.pragma("synchronous = FULL");
      db.pragma("busy_timeout = 5000");
      // 2 MB (SQLite's default; better-sqlite3 sets 16 MB): a delivery's pages go to the WAL as
      // they are written instead of piling up in memory until COMMIT
      db.pragma("cache_size = -2048");
    } catch (error) {
      db.close();
      throw error;
    }
    connection = { key, db, users: 0, tables: new Map() };
    connections.set(key, connection);
  }
  connection.users++;
  return connection;
}

/**
 * A second open of a table while its first sink is still open means the first one's run is gone
 * (the conformance suite simulates a crash this way; two runs on one table would also do it). Its
 * uncommitted work must not become durable with the newer sink's commit: the shared transaction is
 * rolled back, and every sink that had work in it fails from then on (PLUGIN_FAILED) instead of
 * committing a delivery with rows missing.
 */
function supersede(connection: Connection, path: string, table: string): void {
  const previous = connection.tables.get(table);
  if (!previous) return;
  connection.tables.delete(table);
  previous.broken = `${path}: table "${table}" was opened again in this process; this older sink on it stops`;
  const dirty = [...connection.tables.values(), previous].filter((state) => state.dirty);
  if (dirty.length === 0 || !connection.db.inTransaction) return;
  connection.db.exec("ROLLBACK");
  for (const state of dirty) {
    state.dirty = false;
    state.broken = `${path}: table "${table}" was opened again in this process, which rolled back the rows this sink had not committed`;
  }
}

/**
 * The last sink on a file closes its connection, which rolls back what no sink committed; SQLite
 * then checkpoints the WAL into the database file and removes it, so the `.db` file alone holds
 * every committed row.
 */
function releaseConnection(connection: Connection): void {
  if (--connection.users > 0) return;
  connections.delete(connection.key);
  connection.db.close();
}

export type TableHandle = ReturnType<typeof openTable>;

/** open `table` in the database at `path` (one shared connection per file), restored to `checkpoint` */
export function openSqliteTable(
  path: string,
  table: string,
  checkpoint: Checkpoint | undefined,
): TableHandle {
  const connection = acquireConnection(path);
  try {
    return openTable(connection, path, table, checkpoint);
  } catch (error) {
    releaseConnection(connection);
    throw error;
  }
}

function openTable(connection: Connection, path: string, table: string, checkpoint: Checkpoint | undefined) {
  const { db } = connection;
  supersede(connection, path, table);
  const quoted = `"${table}"`;
  db.exec(`
    CREATE TABLE IF NOT EXISTS ${quoted} (
      id TEXT PRIMARY KEY NOT NULL,
      status TEXT NOT NULL,
      output TEXT,
      response TEXT,
      usage TEXT,
      model TEXT,
      batch_id TEXT,
      attempts INTEGER,
      input TEXT,
      error TEXT,
      source_file TEXT,
      source_line INTEGER,
      created_at TEXT NOT NULL
    );
    CREATE TABLE IF NOT EXISTS _batchpipe_commits (
      seq INTEGER PRIMARY KEY AUTOINCREMENT,
      table_name TEXT NOT NULL,
      key TEXT NOT NULL,
      committed_at TEXT NOT NULL,
      UNIQUE (table_name, key)
    );
  `);
  const restoreTo = checkpoint === undefined ? 0 : parseCheckpoint(checkpoint, path);
  const lastSeq =
    (db.prepare("SELECT seq FROM sqlite_sequence WHERE name = '_batchpipe_commits'").pluck().get() as
      | number
      | undefined) ?? 0;
  if (lastSeq < restoreTo) {
    throw new BatchpipeError(
      "PLUGIN_FAILED",
      `${path} has no commit ${restoreTo} (its last is ${lastSeq}): the database was replaced or rolled back`,
      { hint: "Restore the database file or start a new run.", plugin: "sink:sqlite" },
    );
  }
  db.prepare("DELETE FROM _batchpipe_commits WHERE table_name = ? AND seq > ?").run(table, restoreTo);
  // inside another sink's open transaction, the restore is uncommitted work of this sink too
  const state: TableState = { dirty: db.inTransaction, broken: undefined };
  connection.tables.set(table, state);

  const updates = COLUMNS.filter((column) => column !== "id" && column !== "created_at")
    .map((column) => `${column} = excluded.${column}`)
    .join(", ");
  // a later row of one statement with the same id updates the earlier one: the last write wins
  const insert = (rows: number, tuple: string) =>
    db.prepare(
      `INSERT INTO ${quoted} (${COLUMNS.join(", ")}) VALUES ${Array.from({ length: rows }, () => tuple).join(", ")}
       ON CONFLICT(id) DO UPDATE SET ${updates}`,
    );
  // every column bound per row, or the SHARED ones once per statement by name
  const tuple = `(${Array.from({ length: BOUND }, () => "?").join(", ")}, ${NOW})`;
  const sharedTuple = `(${COLUMNS.map((column, i) => (i === BOUND ? NOW : (SHARED as readonly number[]).includes(i) ? `@${column}` : "?")).join(", ")})`;
  const upsertOne = insert(1, tuple);
  const upsertMany = insert(ROWS_PER_STATEMENT, tuple);
  const upsertShared = insert(ROWS_PER_STATEMENT, sharedTuple);
  const own = new Array<Value>(ROWS_PER_STATEMENT * OWN.length);
  const recordCommit = db.prepare(
    "INSERT OR REPLACE INTO _batchpipe_commits (table_name, key, committed_at) VALUES (?, ?, ?)",
  );
  const isCommitted = db.prepare("SELECT 1 FROM _batchpipe_commits WHERE table_name = ? AND key = ?").pluck();
  // IMMEDIATE: take the write lock now, not on a later statement (a deferred transaction that
  // must upgrade can fail with SQLITE_BUSY without waiting)
  const begin = () => {
    if (state.broken) {
      throw new BatchpipeError("PLUGIN_FAILED", state.broken, {
        hint: "Run again: the run resumes from its last recorded commit.",
        plugin: "sink:sqlite",
      });
    }
    if (!db.inTransaction) db.exec("BEGIN IMMEDIATE");
    state.dirty = true;
  };
  let closed = false;

  return {
    write(rows: readonly ResultRow[]): void {
      const values = toValues(rows);
      begin();
      const now = new Date().toISOString();
      const at = { now };
      let i = 0;
      for (; i + ROWS_PER_STATEMENT <= rows.length; i += ROWS_PER_STATEMENT) {
        const shared = sharedValues(values, i * BOUND, now);
        if (shared === undefined) {
          upsertMany.run(...values.slice(i * BOUND, (i + ROWS_PER_STATEMENT) * BOUND), at);
          continue;
        }
        let k = 0;
        for (let row = i * BOUND, end = row + ROWS_PER_STATEMENT * BOUND; row < end; row += BOUND) {
          for (const column of OWN) own[k++] = values[row + column]!;
        }
        upsertShared.run(...own, shared);
      }
      for (; i < rows.length; i++) upsertOne.run(...values.slice(i * BOUND, (i + 1) * BOUND), at);
    },
    commit(key: string): number {
      begin();
      const seq = Number(recordCommit.run(table, key, new Date().toISOString()).lastInsertRowid);
      db.exec("COMMIT");
      // the transaction held every sink's work on this file: all of it is durable now
      for (const other of connection.tables.values()) other.dirty = false;
      return seq;
    },
    committed(key: string): boolean {
      return isCommitted.get(table, key) !== undefined;
    },
    close(): void {
      if (closed) return;
      closed = true;
      if (connection.tables.get(table) === state) connection.tables.delete(table);
      releaseConnection(connection);
    },
  };
}

/**
 * The named parameters of `upsertShared` when the ROWS_PER_STATEMENT rows from `values[at]` agree
 * on every SHARED column; undefined when they do not.
 */
function sharedValues(values: readonly Value[], at: number, now: string): Record<string, Value> | undefined {
  for (let row = at + BOUND, end = at + ROWS_PER_STATEMENT * BOUND; row < end; row += BOUND) {
    for (const column of SHARED) if (values[row + column] !== values[at + column]) return undefined;
  }
  const shared: Record<string, Value> = { now };
  for (const column of SHARED) shared[COLUMNS[column]] = values[at + column]!;
  return shared;
}

/** the bound columns of every row, one row after another */
function toValues(rows: readonly ResultRow[]): Value[] {
  const values: Value[] = new Array(rows.length * BOUND);
  for (let i = 0; i < rows.length; i++) setValues(values, i * BOUND, rows[i]!);
  return values;
}

/** the bound columns of `row` into values[at, at + BOUND) */
function setValues(values: Value[], at: number, row: ResultRow): void {
  values[at] = row.id;
  values[at + 1] = row.status;
  if (row.status === "success") {
    values[at + 2] = typeof row.output === "string" ? row.output : json(row.output);
    values[at + 3] = json(row.response);
    values[at + 4] = json(row.usage);
    values[at + 5] = row.model;
    values[at + 9] = null;
  } else {
    values[at + 2] = null;
    values[at + 3] = null;
    values[at + 4] = null;
    values[at + 5] = null;
    values[at + 9] = json(row.error);
  }
  values[at + 6] = row.batch_id;
  values[at + 7] = row.attempts;
  values[at + 8] = json(row.input);
  values[at + 10] = row.source?.file ?? null;
  values[at + 11] = row.source?.line ?? null;
}

/** JSON text, or NULL for a missing value (and for one JSON cannot hold, such as a function) */
function json(value: unknown): string | null {
  return value === undefined || value === null ? null : (JSON.stringify(value) ?? null);
}

function parseCheckpoint(checkpoint: Checkpoint, path: string): number {
  if (typeof checkpoint !== "number" || !Number.isSafeInteger(checkpoint) || checkpoint < 0) {
    throw new BatchpipeError(
      "PLUGIN_FAILED",
      `invalid checkpoint ${JSON.stringify(checkpoint)} for ${path}`,
      {
        hint: "A sqlite sink checkpoint is a commit sequence number; the run state may be corrupt.",
        plugin: "sink:sqlite",
      },
    );
  }
  return checkpoint;
}
