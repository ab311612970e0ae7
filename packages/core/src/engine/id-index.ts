/**
 * The read phase's uniqueness checks on disk: custom_ids (duplicates abort the run before anything
 * is spent) and request hashes (identical requests are sent once). A scratch SQLite file keeps memory
 * flat at millions of records, where a Set of strings would grow by ~80 bytes a record.
 */
import fs from "node:fs";
import Database from "better-sqlite3";

export interface IdIndex {
  /** returns the position of the earlier record with this id, or undefined when the id is new */
  addId(id: string, file: number, line: number): { file: number; line: number } | undefined;
  /** returns the request already holding this hash (its custom_id and shard), or undefined */
  addRequest(hash: string, id: string, shard: string): { id: string; shard: string } | undefined;
  /** set the shard of a request added before its shard was known */
  setRequestShard(hash: string, shard: string): void;
  close(): void;
}

const OPS_PER_TRANSACTION = 20_000;

export function createIdIndex(file: string): IdIndex {
  fs.rmSync(file, { force: true });
  const db = new Database(file);
  db.pragma("journal_mode = OFF");
  db.pragma("synchronous = OFF");
  db.pragma("cache_size = -16000");
  db.exec(`
    CREATE TABLE ids (id TEXT PRIMARY KEY, file INTEGER NOT NULL, line INTEGER NOT NULL) WITHOUT ROWID;
    CREATE TABLE requests (hash TEXT PRIMARY KEY, id TEXT NOT NULL, shard TEXT NOT NULL) WITHOUT ROWID;
  `);
  const insertId = db.prepare("INSERT INTO ids (id, file, line) VALUES (?, ?, ?) ON CONFLICT DO NOTHING");
  const findId = db.prepare("SELECT file, line FROM ids WHERE id = ?");
  const insertRequest = db.prepare(
    "INSERT INTO requests (hash, id, shard) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
  );
  const findRequest = db.prepare("SELECT id, shard FROM requests WHERE hash = ?");
  const updateRequest = db.prepare("UPDATE requests SET shard = ? WHERE hash = ?");
  let ops = 0;
  db.exec("BEGIN");
  const tick = () => {
    if (++ops % OPS_PER_TRANSACTION === 0) {
      db.exec("COMMIT");
      db.exec("BEGIN");
    }
  };
  return {
    addId(id, fileIndex, line) {
      tick();
      if (insertId.run(id, fileIndex, line).changes === 1) return undefined;
      return findId.get(id) as { file: number; line: number };
    },
    addRequest(hash, id, shard) {
      tick();
      if (insertRequest.run(hash, id, shard).changes === 1) return undefined;
      return findRequest.get(hash) as { id: string; shard: string };
    },
    setRequestShard(hash, shard) {
      updateRequest.run(shard, hash);
    },
    close() {
      try {
        db.exec("COMMIT");
      } catch {}
      db.close();
      fs.rmSync(file, { force: true });
    },
  };
}
