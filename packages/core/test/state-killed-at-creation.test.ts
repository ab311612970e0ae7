// A process killed while it created a state folder's state.db (the first second of a first run)
// left the tables made so far and no schema version: every later run of the pipeline was refused
// ("has schema version ?") until the folder was removed by hand.
import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { expect, it } from "vitest";
import {
  batchpipe,
  readJsonl,
  tempDir,
  writeEmulatorPipeline,
} from "../../batchpipe/test/support/harness.js";

/** what a SIGKILL during creation left (seen from a BatchRunner killed 0.85 s into its first run) */
const HALF_MADE = `
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE runs (
  id TEXT PRIMARY KEY, seq INTEGER NOT NULL, status TEXT NOT NULL, created_at INTEGER NOT NULL,
  finished_at INTEGER, cancel_requested INTEGER NOT NULL DEFAULT 0, totals TEXT, counters TEXT NOT NULL);
`;

it("a state.db whose creation was killed half-way (no schema version, no run) is made anew by the next run", async () => {
  const dir = tempDir("bp-state-killed-");
  fs.writeFileSync(path.join(dir, "data.jsonl"), '{"id":1,"text":"a"}\n{"id":2,"text":"b"}\n');
  writeEmulatorPipeline(dir, { name: "killed-at-creation", source: "./data.jsonl" });
  const stateDir = path.join(dir, ".batchpipe/killed-at-creation");
  fs.mkdirSync(stateDir, { recursive: true });
  const db = new Database(path.join(stateDir, "state.db"));
  db.pragma("journal_mode = WAL");
  db.exec(HALF_MADE);
  db.close();

  const result = await batchpipe(["run", "pipeline.yaml"], { cwd: dir });
  expect(result.stderr).not.toContain("✖");
  expect(result.code).toBe(0);
  const ids = readJsonl<{ id: string }>(path.join(dir, "out/results.jsonl")).map((r) => r.id);
  expect(ids.sort()).toEqual(["1", "2"]);
  const state = new Database(path.join(stateDir, "state.db"), { readonly: true });
  expect(state.prepare("SELECT value FROM meta WHERE key = 'schema_version'").get()).toEqual({ value: "3" });
  state.close();
});
