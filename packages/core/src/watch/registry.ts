/**
 * The watcher's file registry, `<stateDir>/watch/watch.db`: every input file version (path +
 * content sha256) it has taken, in groups (one engine run each).
 *
 * Order of writes (crash safety): a file's snapshot is copied and hashed first, then the group and
 * its files are inserted in one transaction, then the run starts (its id is recorded as soon as the
 * engine creates it), and only after the run finished is the group marked done. A crash before the
 * insert leaves nothing (the file is seen again at the next start); after it, the group is pending
 * and is resumed: its engine run resumes, or, when that run had already finished, it is only marked
 * done. So a file version is neither lost nor processed twice.
 */
import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { makeStateDir, ownerOnly } from "../state/index.js";
// @internal in the published types (better-sqlite3's): imported from its module, not the index
import { openReadOnly } from "../state/read-only.js";

export type GroupStatus = "pending" | "done" | "failed" | "split";

export interface WatchedFile {
  path: string;
  sha: string;
  size: number;
  /** the copy the run reads (absolute) */
  snapshot: string;
}

export interface GroupRow {
  id: number;
  status: GroupStatus;
  runId: string | null;
  createdAt: number;
  files: WatchedFile[];
}

export interface WatchRegistry {
  /** whether this version of the file was already taken */
  known(file: string, sha: string): boolean;
  /** whether any file was ever taken (a group made) */
  taken(): boolean;
  createGroup(files: WatchedFile[]): GroupRow;
  pendingGroups(): GroupRow[];
  setRun(groupId: number, runId: string): void;
  /** `counted`: store the group's per-file counts (fileCounts, with this predicate) on its files */
  finishGroup(
    groupId: number,
    status: "done" | "failed",
    result: Record<string, unknown>,
    counted?: Recorded,
  ): void;
  /**
   * Remember the record ids a group delivered to a sink (the first group to deliver an id owns it):
   * exactly once per id across every file of the watch. `count`: the commit's key (with the sink);
   * its rows are counted per file under it, a commit made again after a crash replacing its count.
   */
  recordDelivered(groupId: number, rows: { id: string; file: string; ok: boolean }[], count?: string): void;
  /**
   * The source failed in `file` (it ends there; its group's run goes on): the file is `failed`
   * once its group finishes, with the rows it delivered before the failure counted.
   */
  failFile(groupId: number, file: WatchedFile): void;
  /** the paths of the group's files the source failed in */
  failedFiles(groupId: number): Set<string>;
  /**
   * The rows each file of the group delivered so far, over every process that ran the group: the
   * commits whose delivery the run's state recorded (`recorded`, given the engine's key). A sink's
   * commit the state never recorded was rolled back when the sink reopened, and its rows were
   * delivered again, maybe cut otherwise (another part size).
   */
  fileCounts(groupId: number, recorded: Recorded): Map<string, { succeeded: number; failed: number }>;
  /** the file an earlier group delivered `id` from, or undefined (ids of `groupId` itself excluded) */
  deliveredBefore(id: string, groupId: number): string | undefined;
  /**
   * Replace a group whose run failed by one group per file (in order: the first occurrence of an
   * id stays first).
   */
  splitGroup(groupId: number): GroupRow[];
  /** every file version with its status, oldest first */
  files(): (WatchedFile & {
    status: string;
    groupId: number;
    succeeded: number | null;
    failed: number | null;
  })[];
  close(): void;
}

/** whether the run's state recorded the delivery committed under this key */
export type Recorded = (key: string) => boolean;

export function openRegistry(dir: string): WatchRegistry {
  makeStateDir(dir);
  const file = path.join(dir, "watch.db");
  const db = new Database(file);
  ownerOnly(file);
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = FULL");
  db.pragma("busy_timeout = 5000");
  db.exec(`
    CREATE TABLE IF NOT EXISTS groups (id INTEGER PRIMARY KEY AUTOINCREMENT, status TEXT NOT NULL,
      run_id TEXT, created_at INTEGER NOT NULL, finished_at INTEGER, result TEXT);
    CREATE TABLE IF NOT EXISTS files (path TEXT NOT NULL, sha TEXT NOT NULL, size INTEGER NOT NULL,
      snapshot TEXT NOT NULL, group_id INTEGER NOT NULL, status TEXT NOT NULL, queued_at INTEGER NOT NULL,
      done_at INTEGER, succeeded INTEGER, failed INTEGER, PRIMARY KEY (path, sha));
    CREATE INDEX IF NOT EXISTS files_group ON files (group_id);
    CREATE TABLE IF NOT EXISTS delivered (id TEXT PRIMARY KEY, group_id INTEGER NOT NULL, file TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS failed_files (path TEXT NOT NULL, sha TEXT NOT NULL, group_id INTEGER NOT NULL,
      PRIMARY KEY (path, sha, group_id));
    CREATE TABLE IF NOT EXISTS commit_counts (key TEXT NOT NULL, file TEXT NOT NULL, group_id INTEGER NOT NULL,
      succeeded INTEGER NOT NULL, failed INTEGER NOT NULL, PRIMARY KEY (key, file));
  `);
  ownerOnly(file);
  const insertDelivered = db.prepare("INSERT OR IGNORE INTO delivered (id, group_id, file) VALUES (?, ?, ?)");
  const selectDelivered = db.prepare("SELECT file FROM delivered WHERE id = ? AND group_id != ?").pluck();
  const deleteCounts = db.prepare("DELETE FROM commit_counts WHERE key = ?");
  const insertCount = db.prepare(
    "INSERT OR REPLACE INTO commit_counts (key, file, group_id, succeeded, failed) VALUES (?, ?, ?, ?, ?)",
  );
  const fileCounts = (groupId: number, recorded: Recorded) => {
    const rows = db
      .prepare("SELECT key, file, succeeded, failed FROM commit_counts WHERE group_id = ?")
      .all(groupId) as { key: string; file: string; succeeded: number; failed: number }[];
    const counts = new Map<string, { succeeded: number; failed: number }>();
    for (const row of rows) {
      // `<role>:<the engine's commit key>`
      if (!recorded(row.key.slice(row.key.indexOf(":") + 1))) continue;
      const entry = counts.get(row.file) ?? { succeeded: 0, failed: 0 };
      entry.succeeded += row.succeeded;
      entry.failed += row.failed;
      counts.set(row.file, entry);
    }
    return counts;
  };
  const failedFiles = (groupId: number) =>
    new Set(db.prepare("SELECT path FROM failed_files WHERE group_id = ?").pluck().all(groupId) as string[]);
  const filesOf = (groupId: number): WatchedFile[] =>
    db
      .prepare("SELECT path, sha, size, snapshot FROM files WHERE group_id = ? ORDER BY rowid")
      .all(groupId) as WatchedFile[];
  const groupRow = (raw: {
    id: number;
    status: GroupStatus;
    run_id: string | null;
    created_at: number;
  }): GroupRow => ({
    id: raw.id,
    status: raw.status,
    runId: raw.run_id,
    createdAt: raw.created_at,
    files: filesOf(raw.id),
  });
  const insertGroup = (files: WatchedFile[]): GroupRow => {
    const now = Date.now();
    const id = Number(
      db.prepare("INSERT INTO groups (status, created_at) VALUES ('pending', ?)").run(now).lastInsertRowid,
    );
    const insert = db.prepare(
      `INSERT INTO files (path, sha, size, snapshot, group_id, status, queued_at) VALUES (?, ?, ?, ?, ?, 'pending', ?)
       ON CONFLICT (path, sha) DO UPDATE SET group_id = excluded.group_id, status = 'pending'`,
    );
    for (const f of files) insert.run(f.path, f.sha, f.size, f.snapshot, id, now);
    return { id, status: "pending", runId: null, createdAt: now, files };
  };
  return {
    known: (file, sha) =>
      db.prepare("SELECT 1 FROM files WHERE path = ? AND sha = ?").get(file, sha) !== undefined,
    taken: () => db.prepare("SELECT 1 FROM groups LIMIT 1").get() !== undefined,
    createGroup: db.transaction(insertGroup),
    pendingGroups: () =>
      (
        db
          .prepare("SELECT id, status, run_id, created_at FROM groups WHERE status = 'pending' ORDER BY id")
          .all() as {
          id: number;
          status: GroupStatus;
          run_id: string | null;
          created_at: number;
        }[]
      ).map(groupRow),
    setRun: (groupId, runId) => db.prepare("UPDATE groups SET run_id = ? WHERE id = ?").run(runId, groupId),
    finishGroup: db.transaction(
      (groupId: number, status: "done" | "failed", result: Record<string, unknown>, counted?: Recorded) => {
        const perFile = counted ? fileCounts(groupId, counted) : undefined;
        const now = Date.now();
        db.prepare("UPDATE groups SET status = ?, finished_at = ?, result = ? WHERE id = ?").run(
          status,
          now,
          JSON.stringify(result),
          groupId,
        );
        // by the primary key: `group_id = ? AND path = ?` went through the group's index, a scan
        // of the group's rows for each of its files (20,000 files: 200 million rows)
        const update = db.prepare(
          "UPDATE files SET status = ?, done_at = ?, succeeded = ?, failed = ? WHERE path = ? AND sha = ? AND group_id = ?",
        );
        const cut = failedFiles(groupId);
        for (const f of filesOf(groupId)) {
          const counts = perFile && (perFile.get(f.path) ?? { succeeded: 0, failed: 0 });
          const fileStatus = cut.has(f.path) ? "failed" : status;
          update.run(
            fileStatus,
            now,
            counts?.succeeded ?? null,
            counts?.failed ?? null,
            f.path,
            f.sha,
            groupId,
          );
        }
      },
    ),
    recordDelivered: db.transaction(
      (groupId: number, rows: { id: string; file: string; ok: boolean }[], count?: string) => {
        const perFile = new Map<string, { succeeded: number; failed: number }>();
        for (const row of rows) {
          insertDelivered.run(row.id, groupId, row.file);
          if (count === undefined) continue;
          const entry = perFile.get(row.file) ?? { succeeded: 0, failed: 0 };
          if (row.ok) entry.succeeded++;
          else entry.failed++;
          perFile.set(row.file, entry);
        }
        if (count === undefined) return;
        // a commit made again replaces its count whole: after a crash it may hold other files' rows,
        // or none (a shard whose batch was lost delivers nothing and is sent again under a new key)
        deleteCounts.run(count);
        for (const [file, c] of perFile) insertCount.run(count, file, groupId, c.succeeded, c.failed);
      },
    ),
    fileCounts,
    deliveredBefore: (id, groupId) => selectDelivered.get(id, groupId) as string | undefined,
    splitGroup: db.transaction((groupId: number) => {
      const files = filesOf(groupId);
      db.prepare("UPDATE groups SET status = 'split', finished_at = ? WHERE id = ?").run(Date.now(), groupId);
      return files.map((f) => insertGroup([f]));
    }),
    failFile: (groupId, file) =>
      db
        .prepare("INSERT OR IGNORE INTO failed_files (path, sha, group_id) VALUES (?, ?, ?)")
        .run(file.path, file.sha, groupId),
    failedFiles,
    files: () =>
      (
        db
          .prepare(
            "SELECT path, sha, size, snapshot, status, group_id AS groupId, succeeded, failed FROM files ORDER BY queued_at, rowid",
          )
          .all() as ReturnType<WatchRegistry["files"]>
      ).map((f) => f),
    close: () => db.close(),
  };
}

export interface WatchSummaryCounts {
  /** file versions processed */
  done: number;
  /** taken, waiting for or in a run */
  pending: number;
  /** could not be processed, or only up to the line the source failed at (unreadable, colliding ids) */
  failed: number;
}

/** what a watcher has done for this state folder, or null if none ever ran (read-only) */
export function readWatchCounts(stateDir: string): WatchSummaryCounts | null {
  const file = path.join(stateDir, "watch", "watch.db");
  if (!fs.existsSync(file)) return null;
  const db = openReadOnly(file);
  try {
    db.pragma("busy_timeout = 5000");
    // a watcher starting up has created the file but maybe not yet its tables: nothing taken yet
    if (!db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'files'").get()) return null;
    const counts: WatchSummaryCounts = { done: 0, pending: 0, failed: 0 };
    const rows = db.prepare("SELECT status, COUNT(*) AS n FROM files GROUP BY status").all() as {
      status: keyof WatchSummaryCounts;
      n: number;
    }[];
    for (const row of rows) if (row.status in counts) counts[row.status] = row.n;
    return counts;
  } finally {
    db.close();
  }
}
