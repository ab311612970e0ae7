/**
 * The sqlite sink's database side: the rows' column values, tables, the shared connection per file,
 * the write transaction and the commit records. Everything here is synchronous (better-sqlite3), on
 * the caller's thread.
 */
import { realpathSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import {
  BatchpipeError,
  type Checkpoint,
  type ColumnKind,
  type ColumnsOption,
  compileColumns,
  isDefaultColumns,
  type ProjectionHooks,
  type ResultRow,
} from "@batchpipe/core/plugin";
import Database from "better-sqlite3";
import { prepareColumns } from "./columns.js";

/**
 * Rows per INSERT statement: one better-sqlite3 call costs ~1 µs whatever it carries, so 16 rows
 * per call cut the sink's CPU per row by about a fifth (bench/plugins-sinks.js).
 */
const ROWS_PER_STATEMENT = 16;
/** created_at, bound once per statement (strftime for each row cost ~1 µs a row) */
const NOW = "@now";
/**
 * Fields that rows of one delivery usually share: when the rows of a statement agree on the
 * columns of these they are bound once, as named parameters. Binding is most of better-sqlite3's
 * cost per row.
 */
const SHARED_PATHS = new Set(["status", "model", "batch_id", "attempts", "error", "source.file"]);
/** how a column of each kind converts a row's value (the functions are at the bottom) */
const CONVERTERS: Record<ColumnKind, (value: unknown) => Value> = {
  text: sqlValue,
  integer: sqlValue,
  time: sqlValue,
  json: jsonText,
  value: typedValue,
};

/** a bigint is an integer: better-sqlite3 binds a number as a double, so 41 would be stored as 41.0 */
type Value = string | number | bigint | null;

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
  const key = fileKey(path);
  let connection = connections.get(key);
  if (!connection) {
    const db = new Database(path);
    try {
      // rows may carry whole response bodies (~1 KB): bigger pages mean fewer splits and overflow
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
 * One key per file, whatever path (symlinks to it or its folder) reaches it: with a connection each,
 * two sinks on one file locked each other out. The folder exists (open made it), the file may not.
 */
function fileKey(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return join(realpathSync(dirname(path)), basename(path));
  }
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
  columns: ColumnsOption | undefined,
  hooks: ProjectionHooks = {},
): TableHandle {
  const connection = acquireConnection(path);
  try {
    return openTable(connection, path, table, checkpoint, columns, hooks);
  } catch (error) {
    releaseConnection(connection);
    throw error;
  }
}

function openTable(
  connection: Connection,
  path: string,
  table: string,
  checkpoint: Checkpoint | undefined,
  option: ColumnsOption | undefined,
  hooks: ProjectionHooks,
) {
  const { db } = connection;
  supersede(connection, path, table);
  const quoted = `"${table}"`;
  db.exec(`
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
  // after every check that may refuse the open: it changes the table only when the open succeeds
  const columns = prepareColumns(
    db,
    path,
    table,
    compileColumns(option, hooks),
    isDefaultColumns(option),
    hooks.warn,
  );
  db.prepare("DELETE FROM _batchpipe_commits WHERE table_name = ? AND seq > ?").run(table, restoreTo);
  // inside another sink's open transaction, the restore is uncommitted work of this sink too
  const state: TableState = { dirty: db.inTransaction, broken: undefined };
  connection.tables.set(table, state);

  // the columns bound per row; created_at is one named parameter per statement
  const bound = columns.filter((c) => c.kind !== "time");
  const BOUND = bound.length;
  const getters = bound.map((c) => c.get);
  const converters = bound.map((c) => CONVERTERS[c.kind]);
  const names = bound.map((c) => c.name);
  const withTime = columns.some((c) => c.kind === "time");
  const timeName = columns.find((c) => c.kind === "time")?.name;
  const SHARED = bound.flatMap((c, i) => (SHARED_PATHS.has(c.path.join(".")) ? [i] : []));
  const OWN = bound.flatMap((_, i) => (SHARED.includes(i) ? [] : [i]));
  const updates = names
    .filter((name) => name !== "id")
    .map((name) => `"${name}" = excluded."${name}"`)
    .join(", ");
  const allNames = [...names, ...(withTime ? [timeName!] : [])].map((name) => `"${name}"`).join(", ");
  // a later row of one statement with the same id updates the earlier one: the last write wins
  const insert = (rows: number, tuple: string) =>
    db.prepare(
      `INSERT INTO ${quoted} (${allNames}) VALUES ${Array.from({ length: rows }, () => tuple).join(", ")}
       ON CONFLICT(id) DO ${updates ? `UPDATE SET ${updates}` : "NOTHING"}`,
    );
  const time = withTime ? `, ${NOW}` : "";
  // every column bound per row, or the SHARED ones once per statement by name (@c<i>: a column
  // name may not be a valid parameter name)
  const tuple = `(${Array.from({ length: BOUND }, () => "?").join(", ")}${time})`;
  const sharedTuple = `(${bound.map((_, i) => (SHARED.includes(i) ? `@c${i}` : "?")).join(", ")}${time})`;
  const upsertOne = insert(1, tuple);
  const upsertMany = insert(ROWS_PER_STATEMENT, tuple);
  const upsertShared = SHARED.length > 0 ? insert(ROWS_PER_STATEMENT, sharedTuple) : undefined;
  const own = new Array<Value>(ROWS_PER_STATEMENT * OWN.length);
  const recordCommit = db.prepare(
    "INSERT OR REPLACE INTO _batchpipe_commits (table_name, key, committed_at) VALUES (?, ?, ?)",
  );
  const isCommitted = db.prepare("SELECT 1 FROM _batchpipe_commits WHERE table_name = ? AND key = ?").pluck();
  // rows this run did not write, which forget() may have to drop (an empty table has none:
  // forget() is never given an id this run wrote a row for)
  const holdsRows = db.prepare(`SELECT 1 FROM ${quoted} LIMIT 1`).get() !== undefined;
  const forgetIds = db.prepare(`DELETE FROM ${quoted} WHERE id IN (SELECT value FROM json_each(?))`);
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
      const values = toValues(rows, getters, converters);
      begin();
      const now = new Date().toISOString();
      // created_at's named parameter, when the table has it
      const at: { now: string }[] = withTime ? [{ now }] : [];
      let i = 0;
      for (; i + ROWS_PER_STATEMENT <= rows.length; i += ROWS_PER_STATEMENT) {
        const shared =
          upsertShared && sharedValues(values, i * BOUND, BOUND, SHARED, withTime ? now : undefined);
        if (shared === undefined) {
          upsertMany.run(...values.slice(i * BOUND, (i + ROWS_PER_STATEMENT) * BOUND), ...at);
          continue;
        }
        let k = 0;
        for (let row = i * BOUND, end = row + ROWS_PER_STATEMENT * BOUND; row < end; row += BOUND) {
          for (const column of OWN) own[k++] = values[row + column]!;
        }
        upsertShared!.run(...own, shared);
      }
      for (; i < rows.length; i++) upsertOne.run(...values.slice(i * BOUND, (i + 1) * BOUND), ...at);
    },
    /** rows of earlier runs made stale: a failed request's success, or (an errors table) a success's failure */
    forget(ids: readonly string[]): void {
      if (!holdsRows || ids.length === 0) return;
      begin();
      forgetIds.run(JSON.stringify(ids));
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
function sharedValues(
  values: readonly Value[],
  at: number,
  width: number,
  shared: readonly number[],
  now: string | undefined,
): Record<string, Value> | undefined {
  for (let row = at + width, end = at + ROWS_PER_STATEMENT * width; row < end; row += width) {
    for (const column of shared) if (values[row + column] !== values[at + column]) return undefined;
  }
  const named: Record<string, Value> = now === undefined ? {} : { now };
  for (const column of shared) named[`c${column}`] = values[at + column]!;
  return named;
}

/** the bound columns of every row, one row after another, each as its column's kind stores it */
function toValues(
  rows: readonly ResultRow[],
  getters: readonly ((row: ResultRow) => unknown)[],
  converters: readonly ((value: unknown) => Value)[],
): Value[] {
  const width = getters.length;
  const values: Value[] = new Array(rows.length * width);
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i]!;
    for (let c = 0; c < width; c++) values[i * width + c] = converters[c]!(getters[c]!(row));
  }
  return values;
}

/**
 * A value as SQLite stores it: strings and numbers as they are, booleans as 1/0, objects and
 * arrays as JSON text, NULL for a missing value (and for one JSON cannot hold, such as a function).
 * A column of a known type (text, integer, time) converts what it is given by its affinity.
 */
function sqlValue(value: unknown): Value {
  if (value === undefined || value === null) return null;
  if (typeof value === "string") return wellFormed(value);
  if (typeof value === "number") return value;
  if (typeof value === "boolean") return value ? 1 : 0;
  return JSON.stringify(value) ?? null;
}

/**
 * A whole field (a TEXT column): a string as it is, anything else as JSON text, a number or a
 * boolean too (bound as a number, TEXT affinity would store 41 as "41.0" and true as "1.0").
 */
function jsonText(value: unknown): Value {
  if (value === undefined || value === null) return null;
  if (typeof value === "string") return wellFormed(value);
  return JSON.stringify(value) ?? null;
}

/**
 * A string SQLite can store as UTF-8: a lone surrogate (half of a UTF-16 pair, e.g. "\ud800" in a
 * JSON source, or cut from an answer) becomes U+FFFD. Bound as it is, it was stored as bytes that
 * are not UTF-8 (ED A0 80), and readers that decode strictly (Python's sqlite3, pandas) failed on
 * the whole row. JSON text needs nothing: JSON.stringify escapes a lone surrogate.
 */
function wellFormed(value: string): string {
  const text = value as string & { isWellFormed(): boolean; toWellFormed(): string };
  return text.isWellFormed() ? value : text.toWellFormed();
}

/**
 * A path's value in a column without a declared type, where SQLite keeps the type it is bound as:
 * an integer (a safe one: past 2^53 a double may not be the integer that was written) or a
 * boolean as INTEGER, through a bigint (a number would be stored as REAL, 41.0); else as sqlValue.
 */
function typedValue(value: unknown): Value {
  if (typeof value === "number") return Number.isSafeInteger(value) ? BigInt(value) : value;
  if (typeof value === "boolean") return value ? 1n : 0n;
  return sqlValue(value);
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
