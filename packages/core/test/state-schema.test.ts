// The state database's schema version: new files are version 3 (issue 17 removed runs.fingerprint
// and the datasets table), version-2 files still open and are marked 3, and a version this build
// does not know is refused with STATE_FAILED instead of failing on a missing column later.
import path from "node:path";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { tempDir } from "../../batchpipe/test/support/harness.js";
import { StateReader } from "../../view/src/state-reader.js";
import { openState } from "../src/state/index.js";

/** the tables as a build from before issue 17 made them (schema version 2) */
const V2_SCHEMA = `
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE runs (
  id TEXT PRIMARY KEY, seq INTEGER NOT NULL, status TEXT NOT NULL, fingerprint TEXT,
  created_at INTEGER NOT NULL, finished_at INTEGER, cancel_requested INTEGER NOT NULL DEFAULT 0,
  totals TEXT, counters TEXT NOT NULL);
CREATE TABLE datasets (fingerprint TEXT PRIMARY KEY, run_id TEXT NOT NULL, completed_at INTEGER NOT NULL);
CREATE TABLE shards (
  run_id TEXT NOT NULL, name TEXT NOT NULL, seq INTEGER NOT NULL, root TEXT NOT NULL, attempt INTEGER NOT NULL,
  model TEXT NOT NULL, endpoint TEXT NOT NULL, file TEXT NOT NULL, meta_file TEXT NOT NULL,
  requests INTEGER NOT NULL, bytes INTEGER NOT NULL, tokens INTEGER NOT NULL, output_tokens INTEGER NOT NULL,
  status TEXT NOT NULL, submission INTEGER NOT NULL DEFAULT 0, staged TEXT, batch_id TEXT, batch_status TEXT,
  created_at INTEGER, batch TEXT, PRIMARY KEY (run_id, name));
CREATE TABLE fanout (run_id TEXT NOT NULL, root TEXT NOT NULL, canonical TEXT NOT NULL,
  record_id TEXT NOT NULL, input TEXT NOT NULL, source TEXT NOT NULL);
CREATE INDEX fanout_root ON fanout (run_id, root);
CREATE TABLE deliveries (key TEXT PRIMARY KEY, run_id TEXT NOT NULL, delivered_at INTEGER NOT NULL);
CREATE TABLE sink_checkpoints (sink TEXT PRIMARY KEY, checkpoint TEXT NOT NULL, key TEXT NOT NULL);
CREATE TABLE kv (key TEXT PRIMARY KEY, value TEXT NOT NULL);
`;

/** a state folder whose state.db an earlier build wrote: one running run with one submitted shard */
function oldState(version: string): string {
  const dir = tempDir("bp-state-schema-");
  const db = new Database(path.join(dir, "state.db"));
  db.exec(V2_SCHEMA);
  db.prepare("INSERT INTO meta VALUES ('schema_version', ?)").run(version);
  db.prepare(
    `INSERT INTO runs (id, seq, status, fingerprint, created_at, totals, counters)
     VALUES ('r1-old', 1, 'running', ?, 1700000000000, ?, ?)`,
  ).run("ab".repeat(32), JSON.stringify({ read: 2, invalid: 0 }), JSON.stringify({ succeeded: 1 }));
  db.prepare("INSERT INTO datasets VALUES (?, 'r0-older', 1690000000000)").run("cd".repeat(32));
  db.prepare(
    `INSERT INTO shards (run_id, name, seq, root, attempt, model, endpoint, file, meta_file, requests, bytes,
       tokens, output_tokens, status, batch_id, batch_status, created_at)
     VALUES ('r1-old', 's0001', 1, 's0001', 1, 'gpt-4o-mini', '/v1/chat/completions', 'shards/s0001.jsonl',
       'shards/s0001.meta', 2, 300, 40, 20, 'open', 'batch_1', 'in_progress', 1700000000500)`,
  ).run();
  db.prepare("INSERT INTO kv VALUES ('read-checkpoint:r1-old', ?)").run(
    JSON.stringify({ records: 2, fingerprint: "ab".repeat(32) }),
  );
  db.close();
  return dir;
}

const read = <T>(dir: string, sql: string): T[] => {
  const db = new Database(path.join(dir, "state.db"), { readonly: true });
  try {
    return db.prepare(sql).all() as T[];
  } finally {
    db.close();
  }
};
const version = (dir: string) =>
  read<{ value: string }>(dir, "SELECT value FROM meta WHERE key = 'schema_version'")[0]?.value;

describe("state schema version", () => {
  it("a new state database is version 3, without runs.fingerprint and the datasets table", () => {
    const dir = tempDir("bp-state-schema-");
    const state = openState(dir);
    state.createRun();
    state.close();
    expect(version(dir)).toBe("3");
    expect(
      read<{ name: string }>(dir, "SELECT name FROM pragma_table_info('runs')").map((c) => c.name),
    ).not.toContain("fingerprint");
    expect(read(dir, "SELECT name FROM sqlite_master WHERE name = 'datasets'")).toEqual([]);
  });

  it("a version-2 file with the old columns opens, its run reads and goes on, and it is marked 3", () => {
    const dir = oldState("2");
    const state = openState(dir);
    const run = state.unfinishedRun();
    expect(run).toMatchObject({ id: "r1-old", status: "running", totals: { read: 2 } });
    expect(run?.counters.succeeded).toBe(1);
    expect(state.shards("r1-old")).toMatchObject([
      { name: "s0001", status: "open", batchId: "batch_1", requests: 2 },
    ]);
    expect(JSON.parse(state.readCheckpoint("r1-old") ?? "null")).toMatchObject({ records: 2 });
    // it goes on: the shard's batch ends, the run finishes, a later run is created beside it
    state.updateShard("r1-old", "s0001", { status: "collected", batchStatus: "completed" });
    state.finishRun("r1-old", "done");
    const next = state.createRun();
    state.close();

    // marked 3: a build that reads only 2 refuses it by its version instead of misreading new rows
    expect(version(dir)).toBe("3");
    expect(read(dir, "SELECT id, status, fingerprint FROM runs ORDER BY seq")).toEqual([
      { id: "r1-old", status: "done", fingerprint: "ab".repeat(32) },
      { id: next.id, status: next.status, fingerprint: null },
    ]);
    // and it opens again as version 3
    const again = openState(dir);
    expect(again.getRun("r1-old")?.status).toBe("done");
    again.close();
  });

  it("a version this build does not know is refused with STATE_FAILED and left as it is", () => {
    const dir = oldState("99");
    let error: unknown;
    try {
      openState(dir).close();
    } catch (caught) {
      error = caught;
    }
    expect(error).toMatchObject({
      code: "STATE_FAILED",
      message: `the state database ${path.join(dir, "state.db")} has schema version 99, this batchpipe reads version 2 or 3`,
      hint: expect.stringContaining("--state-dir"),
    });
    expect(version(dir)).toBe("99");
  });

  it("batchpipe view (read-only) reads a version-2 file without marking it, and refuses one it does not know", () => {
    const dir = oldState("2");
    const reader = new StateReader(dir);
    const page = { offset: 0, limit: 50 };
    expect(reader.runs(page)).toMatchObject([{ id: "r1-old", status: "running" }]);
    expect(reader.shards("r1-old")).toMatchObject([{ name: "s0001", batchId: "batch_1" }]);
    reader.close();
    expect(version(dir)).toBe("2");

    const unknown = oldState("99");
    expect(() => new StateReader(unknown).runs(page)).toThrow(
      /has schema version 99, this batchpipe reads version 2 or 3/,
    );
  });
});
