/**
 * The `sqlite` sink: one row per id in a table (upsert), written in one transaction per commit.
 *
 * Exactly-once: rows wait in a TEMP table until `commit(key)`, which in ONE transaction upserts them
 * and records `key` in `_batchpipe_commits`; the checkpoint is that record's `seq`. `open` with a
 * checkpoint forgets the commit records of this table after it (so `committed(key)` is false for
 * them and the engine redelivers); their rows stay, and a redelivery overwrites them by id: never a
 * duplicate. A fresh sink (no checkpoint) forgets every commit record of its table and keeps the
 * rows, which later deliveries upsert.
 */
import { mkdir } from "node:fs/promises";
import { dirname } from "node:path";
import { BatchpipeError, type Checkpoint, defineSink, type ResultRow, z } from "@batchpipe/core/plugin";
import Database from "better-sqlite3";

export const options = z.strictObject({
  path: z
    .string()
    .min(1)
    .meta({
      description: "The SQLite database file, relative to the spec file; created with its parent folders.",
      examples: ["./out/results.db"],
    }),
  table: z
    .string()
    .regex(
      /^[A-Za-z_][A-Za-z0-9_]*$/,
      "must be a plain SQL identifier (letters, digits, _; not starting with a digit)",
    )
    .default("results")
    .meta({ description: "The table the rows go to; created if missing." }),
});

export type SqliteSinkOptions = z.output<typeof options>;

export default defineSink({
  name: "sqlite",
  options,
  async open({ options, resolvePath, checkpoint }) {
    const path = resolvePath(options.path);
    await mkdir(dirname(path), { recursive: true });
    const db = new Database(path);
    try {
      return openTable(db, path, options.table, checkpoint);
    } catch (error) {
      db.close();
      throw error;
    }
  },
});

// --- internal ---

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

type Values = (string | number | null)[];

function openTable(db: Database.Database, path: string, table: string, checkpoint: Checkpoint | undefined) {
  // rows carry whole response bodies (~1 KB): bigger pages mean fewer splits and overflow pages;
  // this only takes effect when the database is created
  db.pragma("page_size = 16384");
  db.pragma("journal_mode = WAL");
  // FULL: in WAL mode NORMAL may lose the last commits on power loss after the engine recorded
  // their checkpoints, which would lose rows; one fsync per commit costs nothing at shard size
  db.pragma("synchronous = FULL");
  db.pragma("busy_timeout = 5000");
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

  const updates = COLUMNS.filter((column) => column !== "id" && column !== "created_at")
    .map((column) => `${column} = excluded.${column}`)
    .join(", ");
  // rows wait in a TEMP table (the connection's own temp file: no lock on the database, constant
  // memory; holding a 50,000-row shard in the heap took ~150 MB) until commit(key) moves them
  db.pragma("temp_store = FILE");
  db.exec(`CREATE TEMP TABLE IF NOT EXISTS _batchpipe_pending (${COLUMNS.join(", ")})`);
  const stage = db.prepare(
    `INSERT INTO temp._batchpipe_pending (${COLUMNS.join(", ")}) VALUES (${COLUMNS.map(() => "?").join(", ")})`,
  );
  // WHERE true: SQLite's rule for an upsert from a SELECT; rowid order keeps "the last write wins"
  const upsert = db.prepare(
    `INSERT INTO ${quoted} (${COLUMNS.join(", ")}) SELECT ${COLUMNS.join(", ")} FROM temp._batchpipe_pending
     WHERE true ORDER BY rowid ON CONFLICT(id) DO UPDATE SET ${updates}`,
  );
  const unstage = db.prepare("DELETE FROM temp._batchpipe_pending");
  const recordCommit = db.prepare(
    "INSERT OR REPLACE INTO _batchpipe_commits (table_name, key, committed_at) VALUES (?, ?, ?)",
  );
  const isCommitted = db.prepare("SELECT 1 FROM _batchpipe_commits WHERE table_name = ? AND key = ?").pluck();

  // one transaction per write(): row-by-row autocommits of the temp table were ~10x slower; a
  // transaction that writes only TEMP tables takes no lock on the database file
  const stageRows = db.transaction((rows: readonly ResultRow[], now: string) => {
    for (const row of rows) stage.run(toValues(row, now));
  });
  const commitTransaction = db.transaction((key: string, now: string): number => {
    upsert.run();
    unstage.run();
    return Number(recordCommit.run(table, key, now).lastInsertRowid);
  });

  return {
    async write(rows: readonly ResultRow[]): Promise<void> {
      const now = new Date().toISOString();
      // serialise now: the caller may reuse its objects, and JSON text is what the table stores
      stageRows(rows, now);
    },
    async commit(key: string): Promise<Checkpoint> {
      return commitTransaction(key, new Date().toISOString());
    },
    async committed(key: string): Promise<boolean> {
      return isCommitted.get(table, key) !== undefined;
    },
    async close(): Promise<void> {
      db.close();
    },
  };
}

function toValues(row: ResultRow, now: string): Values {
  const success = row.status === "success";
  return [
    row.id,
    row.status,
    success ? (typeof row.output === "string" ? row.output : json(row.output)) : null,
    success ? json(row.response) : null,
    success ? json(row.usage) : null,
    success ? row.model : null,
    row.batch_id,
    row.attempts,
    json(row.input),
    success ? null : json(row.error),
    row.source?.file ?? null,
    row.source?.line ?? null,
    now,
  ];
}

function json(value: unknown): string | null {
  return value === undefined || value === null ? null : JSON.stringify(value);
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
