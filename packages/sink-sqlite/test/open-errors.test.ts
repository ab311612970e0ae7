// SQLite's own errors named no file and said no fix: `path` naming a text file ended the run
// "sinks[0] (sqlite) failed in open: file is not a database" with the engine's generic hint, and
// a writable database in a folder this user cannot write (SQLite makes its -wal file beside it;
// the spec's check looks at the file only) "attempt to write a readonly database". They are
// PLUGIN_FAILED naming the database, the table and what to do. The real CLI in a child process.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { expect, it } from "vitest";
import { batchpipe, tempDir, writeEmulatorPipeline } from "../../batchpipe/test/support/harness.js";

// tests run as root, whom file permissions do not stop: the read-only case runs as nobody
const USER = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};

function pipelineDir(name: string): string {
  const dir = tempDir(`bp-${name}-`);
  fs.writeFileSync(path.join(dir, "data.jsonl"), '{"id":1,"text":"a"}\n');
  writeEmulatorPipeline(dir, {
    name,
    source: "./data.jsonl",
    sinks: ["{ use: sqlite, path: ./out/results.db, table: answers }"],
  });
  fs.mkdirSync(path.join(dir, "out"));
  return dir;
}

function errorOf(run: { events: { type: string }[]; stderr: string }) {
  const error = run.events.find((e) => e.type === "error");
  expect(error, run.stderr).toBeDefined();
  return error as unknown as { code: string; message: string; hint: string; plugin: string };
}

it("a path naming a file that is not a database: PLUGIN_FAILED naming it, the table and the fix", async () => {
  const dir = pipelineDir("sqlite-notadb");
  const db = path.join(dir, "out", "results.db");
  fs.writeFileSync(db, "id,text\n1,a\n");
  const run = await batchpipe(["run", "pipeline.yaml", "--json"], { cwd: dir, timeoutMs: 30_000 });
  expect(run.code, run.stderr).toBe(1);
  const error = errorOf(run);
  expect(error).toMatchObject({ code: "PLUGIN_FAILED", plugin: "sink:sqlite" });
  expect(error.message).toBe(`${db} (table "answers"): open failed: file is not a database (SQLITE_NOTADB)`);
  expect(error.hint).toMatch(/^The file is not a SQLite database .*give path a new file/);
  expect(fs.readFileSync(db, "utf8")).toBe("id,text\n1,a\n");
}, 40_000);

it("a writable database in a folder this user cannot write: says SQLite needs the folder", async () => {
  const dir = pipelineDir("sqlite-ro-folder");
  const first = await batchpipe(["run", "pipeline.yaml", "--json"], { cwd: dir, timeoutMs: 30_000 });
  expect(first.code, first.stderr).toBe(0);
  // the test run's temp folder is root's: the emulator's own temp folder goes in one the user can write
  fs.mkdirSync(path.join(dir, "tmp"));
  if (USER.uid !== undefined) execFileSync("chown", ["-R", `${USER.uid}:${USER.gid}`, dir]);
  fs.chmodSync(dir, 0o755);
  const out = path.join(dir, "out");
  fs.chmodSync(out, 0o555);
  const as = { cwd: dir, env: { TMPDIR: path.join(dir, "tmp") }, timeoutMs: 30_000, ...USER };
  try {
    const run = await batchpipe(["run", "pipeline.yaml", "--json"], as);
    expect(run.code, run.stderr).toBe(1);
    const error = errorOf(run);
    expect(error).toMatchObject({ code: "PLUGIN_FAILED", plugin: "sink:sqlite" });
    expect(error.message).toMatch(
      new RegExp(`^${out}/results\\.db \\(table "answers"\\): open failed: .*\\(SQLITE_READONLY`),
    );
    expect(error.hint).toMatch(/-wal and -shm files: make the file and its folder writable/);
  } finally {
    fs.chmodSync(out, 0o755);
  }
}, 60_000);

// a device or pipe failed with SQLite's "disk I/O error" (SQLITE_IOERR_FSYNC / _READ)
it.each([
  ["/dev/null", "a device"],
  ["a named pipe", "a pipe"],
])(
  "path %s: PLUGIN_FAILED saying it is no regular file",
  async (target, kind) => {
    const dir = pipelineDir("sqlite-not-a-file");
    let file = target;
    if (target === "a named pipe") {
      file = path.join(dir, "out", "results.db");
      execFileSync("mkfifo", [file]);
    }
    fs.writeFileSync(
      path.join(dir, "pipeline.yaml"),
      fs.readFileSync(path.join(dir, "pipeline.yaml"), "utf8").replace("./out/results.db", file),
    );
    const run = await batchpipe(["run", "pipeline.yaml", "--json"], { cwd: dir, timeoutMs: 30_000 });
    expect(run.code, run.stderr).toBe(1);
    expect(errorOf(run)).toMatchObject({
      code: "PLUGIN_FAILED",
      plugin: "sink:sqlite",
      message: `${file} is ${kind}, not a regular file`,
      hint: "A SQLite database is a regular file (with its -wal and -shm files beside it): give path a file, e.g. ./out/results.db.",
    });
  },
  40_000,
);
