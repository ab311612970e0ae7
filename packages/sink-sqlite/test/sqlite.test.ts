import { copyFileSync, existsSync, mkdtempSync, rmSync, statSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Checkpoint, FailureRow, SuccessRow } from "@batchpipe/core/plugin";
import { createTestContext } from "@batchpipe/core/testing";
import Database from "better-sqlite3";
import { expect, test } from "vitest";
import sink from "../src/index.js";

function open(dir: string, options: Record<string, unknown>, checkpoint?: Checkpoint) {
  return sink.open({ ...createTestContext(dir, sink.options.parse(options)), checkpoint });
}

function query(file: string, sql: string): Record<string, unknown>[] {
  const db = new Database(file, { readonly: true });
  try {
    return db.prepare(sql).all() as Record<string, unknown>[];
  } finally {
    db.close();
  }
}

function success(id: string, output: unknown, input: Record<string, unknown> = { id }): SuccessRow {
  return {
    id,
    status: "success",
    output,
    response: { body: output },
    usage: { input_tokens: 1, output_tokens: 2, total_tokens: 3 },
    model: "gpt-4o-mini",
    batch_id: "batch_1",
    attempts: 2,
    input,
    source: { file: "/data/in.jsonl", line: 7 },
  };
}

test("default columns: JSON text for structured values, plain text for a string output; input and provenance for failures only", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sink-sqlite-"));
  const failure: FailureRow = {
    id: "f1",
    status: "failed",
    error: { code: "batch_expired", message: "expired", status_code: null },
    attempts: 3,
    batch_id: null,
    input: { id: "f1" },
    source: { file: "/data/in.jsonl", line: 9 },
  };
  const handle = await open(dir, { path: "out/r.db" });
  await handle.write([success("s1", "plain text"), success("s2", { label: "x" }), failure]);
  await handle.commit("k1");
  await handle.close();
  const rows = query(join(dir, "out/r.db"), "SELECT * FROM results ORDER BY id");
  expect(rows.map(({ created_at, ...row }) => row)).toEqual([
    {
      id: "f1",
      status: "failed",
      output: null,
      usage: null,
      model: null,
      batch_id: null,
      attempts: 3,
      input: '{"id":"f1"}',
      error: '{"code":"batch_expired","message":"expired","status_code":null}',
      source_file: "/data/in.jsonl",
      source_line: 9,
    },
    {
      id: "s1",
      status: "success",
      output: "plain text",
      usage: '{"input_tokens":1,"output_tokens":2,"total_tokens":3}',
      model: "gpt-4o-mini",
      batch_id: "batch_1",
      attempts: 2,
      input: null,
      error: null,
      source_file: null,
      source_line: null,
    },
    expect.objectContaining({ id: "s2", output: '{"label":"x"}' }),
  ]);
  expect(rows[0]!.created_at).toMatch(/^\d{4}-\d\d-\d\dT/);
  rmSync(dir, { recursive: true });
});

test("hostile records are stored intact: SQL in text, NUL characters, huge strings, deep nesting", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sink-sqlite-"));
  let deep: unknown = "bottom";
  for (let i = 0; i < 2000; i++) deep = { d: deep };
  const hostile = [
    success(`'); DROP TABLE results; --`, `"; DELETE FROM _batchpipe_commits; --`),
    success("nul", "before\u0000after", { id: "nul", text: "a\u0000b" }),
    success("huge", "x".repeat(20_000_000)),
    success("deep", deep),
    success('quote"id', { "key with 'quotes'": "val\\ue" }),
  ];
  const handle = await open(dir, { path: "r.db", table: "Weird_Table_1", columns: "all" });
  await handle.write(hostile);
  await handle.commit("k1");
  await handle.close();
  const rows = query(join(dir, "r.db"), 'SELECT id, output, input FROM "Weird_Table_1"');
  const byId = new Map(rows.map((row) => [row.id as string, row]));
  expect([...byId.keys()].sort()).toEqual(hostile.map((row) => row.id).sort());
  expect(byId.get(`'); DROP TABLE results; --`)!.output).toBe(`"; DELETE FROM _batchpipe_commits; --`);
  expect(byId.get("nul")!.output).toBe("before\u0000after");
  expect(JSON.parse(byId.get("nul")!.input as string)).toEqual({ id: "nul", text: "a\u0000b" });
  expect((byId.get("huge")!.output as string).length).toBe(20_000_000);
  expect(byId.get("deep")!.output).toBe(JSON.stringify(deep));
  expect(JSON.parse(byId.get('quote"id')!.output as string)).toEqual({ "key with 'quotes'": "val\\ue" });
  expect(query(join(dir, "r.db"), "SELECT count(*) AS n FROM _batchpipe_commits")).toEqual([{ n: 1 }]);
  rmSync(dir, { recursive: true });
});

test("an upsert replaces the row for an id and keeps its created_at", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sink-sqlite-"));
  const handle = await open(dir, { path: "r.db" });
  await handle.write([success("a", "first")]);
  await handle.commit("k1");
  const [before] = query(join(dir, "r.db"), "SELECT created_at FROM results");
  await handle.write([success("a", "second")]);
  await handle.commit("k2");
  await handle.close();
  expect(query(join(dir, "r.db"), "SELECT id, output, created_at FROM results")).toEqual([
    { id: "a", output: "second", created_at: before!.created_at },
  ]);
  rmSync(dir, { recursive: true });
});

test("forget() drops an earlier run's rows of records that ended the other way, with the commit", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sink-sqlite-"));
  const file = join(dir, "r.db");
  const ids = () => query(file, "SELECT id FROM results ORDER BY id").map((r) => r.id);
  const earlier = await open(dir, { path: "r.db" });
  await earlier.write([success("f1", "a"), success("f2", "b"), success("f3", "c")]);
  await earlier.commit("run1");
  await earlier.close();
  // the next run: f2's changed request failed (its row goes to the errors sink); a close without
  // commit keeps the row
  const next = await open(dir, { path: "r.db" });
  await next.write([success("f1", "a2")]);
  await next.forget!(["f2"]);
  await next.close();
  expect(ids()).toEqual(["f1", "f2", "f3"]);
  const again = await open(dir, { path: "r.db" });
  await again.forget!(["f2", "not-there", `x" OR 1=1 --`]);
  await again.commit("run2");
  await again.close();
  expect(ids()).toEqual(["f1", "f3"]);
  rmSync(dir, { recursive: true });
});

test("two tables in one database keep their commits apart", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sink-sqlite-"));
  const results = await open(dir, { path: "r.db", table: "results" });
  const errors = await open(dir, { path: "r.db", table: "errors" });
  await results.write([success("a", "x")]);
  const checkpoint = await results.commit("shard-1");
  await errors.write([success("b", "y")]);
  await errors.commit("shard-1");
  await results.write([success("c", "z")]);
  await results.commit("shard-2");
  await results.close();
  // reopening `results` at its first commit forgets its shard-2, not errors' shard-1
  const reopened = await open(dir, { path: "r.db", table: "results" }, checkpoint);
  expect(await reopened.committed!("shard-1")).toBe(true);
  expect(await reopened.committed!("shard-2")).toBe(false);
  expect(await errors.committed!("shard-1")).toBe(true);
  await reopened.close();
  await errors.close();
  rmSync(dir, { recursive: true });
});

test("a checkpoint the database never reached, or not a number, is PLUGIN_FAILED", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sink-sqlite-"));
  await expect(open(dir, { path: "r.db" }, 5)).rejects.toMatchObject({
    code: "PLUGIN_FAILED",
    message: expect.stringContaining("no commit 5"),
  });
  await expect(open(dir, { path: "r.db" }, "5")).rejects.toMatchObject({ code: "PLUGIN_FAILED" });
  rmSync(dir, { recursive: true });
});

test("two sinks on one file share a connection: neither waits for the other's write lock", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sink-sqlite-"));
  const results = await open(dir, { path: "r.db", table: "results" });
  // another path to the same file (through a symlink) reaches the same connection
  symlinkSync(dir, join(dir, "link"));
  const errors = await open(dir, { path: "link/r.db", table: "errors" });
  await results.write([success("a", "x")]);
  await errors.write([success("b", "y")]);
  // with a connection each, this commit would wait for the results sink's transaction (busy_timeout)
  await errors.commit("shard-1");
  // the shared transaction made results' written row durable before its commit record: harmless,
  // a redelivery of shard-1 (not yet committed for results) overwrites it by id
  expect(query(join(dir, "r.db"), "SELECT id FROM results")).toEqual([{ id: "a" }]);
  expect(await results.committed!("shard-1")).toBe(false);
  await results.write([success("c", "z")]);
  await results.commit("shard-1");
  await results.close();
  await errors.write([success("d", "w")]);
  await errors.commit("shard-2");
  await errors.close();
  expect(query(join(dir, "r.db"), "SELECT id FROM results ORDER BY id")).toEqual([{ id: "a" }, { id: "c" }]);
  expect(query(join(dir, "r.db"), "SELECT id FROM errors ORDER BY id")).toEqual([{ id: "b" }, { id: "d" }]);
  expect(query(join(dir, "r.db"), "SELECT table_name, key FROM _batchpipe_commits ORDER BY seq")).toEqual([
    { table_name: "errors", key: "shard-1" },
    { table_name: "results", key: "shard-1" },
    { table_name: "errors", key: "shard-2" },
  ]);
  rmSync(dir, { recursive: true });
});

test("a symlink to the database file reaches the same connection: no SQLITE_BUSY between the sinks", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sink-sqlite-"));
  const results = await open(dir, { path: "real.db", table: "results" });
  symlinkSync(join(dir, "real.db"), join(dir, "latest.db"));
  const errors = await open(dir, { path: "latest.db", table: "errors" });
  await results.write([success("a", "x")]);
  // with a connection each, this waited 5 s (busy_timeout) for the results sink's write lock and failed
  await errors.write([success("b", "y")]);
  await errors.commit("shard-1");
  await results.commit("shard-1");
  await results.close();
  await errors.close();
  expect(query(join(dir, "real.db"), "SELECT id FROM results")).toEqual([{ id: "a" }]);
  expect(query(join(dir, "real.db"), "SELECT id FROM errors")).toEqual([{ id: "b" }]);
  rmSync(dir, { recursive: true });
});

test("opening a table again rolls back what its older sink had not committed; that sink then fails", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sink-sqlite-"));
  const older = await open(dir, { path: "r.db", table: "results" });
  const errors = await open(dir, { path: "r.db", table: "errors" });
  await older.write([success("a", "x")]);
  const checkpoint = await older.commit("k1");
  await older.write([success("lost", "x")]);
  await errors.write([success("e-lost", "y")]);
  const newer = await open(dir, { path: "r.db", table: "results" }, checkpoint);
  // the older sink fails at its next call
  await expect(older.write([success("b", "x")]).then(() => older.commit("k2"))).rejects.toMatchObject({
    code: "PLUGIN_FAILED",
    message: expect.stringContaining('table "results" was opened again'),
  });
  // the errors sink's uncommitted row went with the rollback: it fails instead of committing without it
  await expect(errors.commit("k1")).rejects.toMatchObject({
    code: "PLUGIN_FAILED",
    message: expect.stringContaining("rolled back the rows this sink had not committed"),
  });
  await newer.write([success("c", "z")]);
  await newer.commit("k2");
  await Promise.all([older.close(), errors.close(), newer.close()]);
  expect(query(join(dir, "r.db"), "SELECT id FROM results ORDER BY id")).toEqual([{ id: "a" }, { id: "c" }]);
  expect(query(join(dir, "r.db"), "SELECT id FROM errors")).toEqual([]);
  rmSync(dir, { recursive: true });
});

test("the same id twice in one commit keeps the last write", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sink-sqlite-"));
  const handle = await open(dir, { path: "r.db" });
  await handle.write([success("a", "first"), success("b", "b")]);
  await handle.write([success("a", "second")]);
  await handle.commit("k1");
  await handle.close();
  expect(query(join(dir, "r.db"), "SELECT id, output FROM results ORDER BY id")).toEqual([
    { id: "a", output: "second" },
    { id: "b", output: "b" },
  ]);
  rmSync(dir, { recursive: true });
});

test("rows that share status, model, batch and source file are stored as rows written one by one", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sink-sqlite-"));
  const rows: (SuccessRow | FailureRow)[] = Array.from({ length: 40 }, (_, i) => success(`r${i}`, { n: i }));
  // the second statement's 16 rows disagree on model, batch_id and source file, and hold a failure
  rows[20] = { ...success("r20", "x"), model: "gpt-4o" };
  rows[21] = { ...success("r21", "y"), batch_id: "batch_2", source: { file: "/data/other.jsonl", line: 1 } };
  rows[22] = {
    id: "r22",
    status: "failed",
    error: { code: "batch_expired", message: "expired", status_code: null },
    attempts: 3,
    batch_id: "batch_1",
    input: { id: "r22" },
    source: { file: "/data/in.jsonl", line: 22 },
  };
  const together = await open(dir, { path: "r.db", table: "together", columns: "all" });
  await together.write(rows);
  await together.commit("k1");
  await together.close();
  const apart = await open(dir, { path: "r.db", table: "apart", columns: "all" });
  for (const row of rows) await apart.write([row]);
  await apart.commit("k1");
  await apart.close();
  const columns =
    "id, status, output, response, usage, model, batch_id, attempts, input, error, source_file, source_line";
  const stored = query(join(dir, "r.db"), `SELECT ${columns} FROM together ORDER BY id`);
  expect(stored).toHaveLength(40);
  expect(stored).toEqual(query(join(dir, "r.db"), `SELECT ${columns} FROM apart ORDER BY id`));
  expect(stored.find((row) => row.id === "r20")).toMatchObject({ model: "gpt-4o", output: "x" });
  expect(stored.find((row) => row.id === "r22")).toMatchObject({ status: "failed", model: null });
  rmSync(dir, { recursive: true });
});

test("committed rows reach the database file while the sink is open; after close it alone holds them", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sink-sqlite-"));
  const file = join(dir, "r.db");
  const handle = await open(dir, { path: "r.db" });
  const text = "x".repeat(2000);
  for (let round = 0; round < 4; round++) {
    await handle.write(Array.from({ length: 2000 }, (_, i) => success(`r${round}-${i}`, text)));
    await handle.commit(`k${round}`);
  }
  // SQLite's automatic checkpoint copies the WAL into the database file once it holds 1,000 pages
  expect(statSync(file).size).toBeGreaterThan(6_000_000);
  await handle.close();
  // the last connection's close checkpoints the rest and removes the WAL: copying the .db file alone
  // loses nothing
  expect(existsSync(`${file}-wal`)).toBe(false);
  copyFileSync(file, join(dir, "copy.db"));
  expect(query(join(dir, "copy.db"), "SELECT count(*) AS n FROM results")).toEqual([{ n: 8000 }]);
  rmSync(dir, { recursive: true });
});

test("columns: paths into a JSON output and usage, renamed; a value keeps its type; `all` brings response back", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sink-sqlite-"));
  const handle = await open(dir, {
    path: "r.db",
    columns: ["id", "output.sentiment", { tokens: "usage.total_tokens" }, { score: "output.scores.0" }],
  });
  await handle.write([
    success("a", { sentiment: "positive", scores: [0.9], flag: true }),
    success("b", "not json"),
  ]);
  await handle.commit("k1");
  await handle.close();
  const file = join(dir, "r.db");
  expect(query(file, "SELECT * FROM results ORDER BY id")).toEqual([
    { id: "a", status: "success", output_sentiment: "positive", tokens: 3, score: 0.9 },
    { id: "b", status: "success", output_sentiment: null, tokens: 3, score: null },
  ]);
  const full = await open(dir, { path: "r.db", table: "full", columns: "all" });
  await full.write([success("a", "text")]);
  await full.commit("k1");
  await full.close();
  const [row] = query(file, "SELECT response, input, source_file FROM full");
  expect(row).toEqual({ response: '{"body":"text"}', input: '{"id":"a"}', source_file: "/data/in.jsonl" });
  rmSync(dir, { recursive: true });
});

test("a path's value is stored as its own type: an integer or a boolean as INTEGER, a fraction as REAL, text as TEXT", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sink-sqlite-"));
  const output = { n: 41, yes: true, no: false, half: 0.5, s: "x", past: 2 ** 53, list: [1] };
  const columns = Object.keys(output).map((key) => ({ [key]: `output.${key}` }));
  const handle = await open(dir, { path: "r.db", columns: [...columns, { tokens: "usage.total_tokens" }] });
  // 17 rows: one statement of 16 (the rows agree on the shared columns) and one alone
  await handle.write(Array.from({ length: 17 }, (_, i) => success(`r${i}`, output)));
  await handle.commit("k1");
  await handle.close();
  const types = Object.keys(output)
    .map((key) => `typeof(${key}) AS ${key}`)
    .join(", ");
  expect(query(join(dir, "r.db"), `SELECT DISTINCT ${types}, typeof(tokens) AS tokens FROM results`)).toEqual(
    [
      {
        n: "integer",
        yes: "integer",
        no: "integer",
        half: "real",
        s: "text",
        // past 2^53 a number may not be the integer it was written as: it stays REAL
        past: "real",
        list: "text",
        tokens: "integer",
      },
    ],
  );
  expect(
    query(join(dir, "r.db"), "SELECT n, yes, no, half, s, list, tokens FROM results WHERE id = 'r16'"),
  ).toEqual([{ n: 41, yes: 1, no: 0, half: 0.5, s: "x", list: "[1]", tokens: 3 }]);
  rmSync(dir, { recursive: true });
});

test("a whole field that is a number or a boolean is its JSON text, as an object is", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sink-sqlite-"));
  const handle = await open(dir, { path: "r.db", columns: ["output"] });
  await handle.write([success("n", 41), success("half", 0.5), success("yes", true), success("s", "41")]);
  await handle.commit("k1");
  await handle.close();
  expect(
    query(join(dir, "r.db"), "SELECT id, output, typeof(output) AS type FROM results ORDER BY id"),
  ).toEqual([
    { id: "half", output: "0.5", type: "text" },
    { id: "n", output: "41", type: "text" },
    { id: "s", output: "41", type: "text" },
    { id: "yes", output: "true", type: "text" },
  ]);
  rmSync(dir, { recursive: true });
});

test("a column into a text output is NULL and says so once, through the logger", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sink-sqlite-"));
  const warnings: string[] = [];
  const options = sink.options.parse({ path: "r.db", columns: ["id", "output.sentiment"] });
  const context = createTestContext(dir, options);
  const handle = await sink.open({
    ...context,
    logger: { ...context.logger, warn: (message: string) => warnings.push(message) },
    checkpoint: undefined,
  });
  await handle.write([
    success("a", "positive, I think"),
    success("b", "negative"),
    success("c", { sentiment: "neutral" }),
  ]);
  await handle.commit("k1");
  await handle.close();
  expect(query(join(dir, "r.db"), "SELECT id, output_sentiment FROM results ORDER BY id")).toEqual([
    { id: "a", output_sentiment: null },
    { id: "b", output_sentiment: null },
    { id: "c", output_sentiment: "neutral" },
  ]);
  expect(warnings).toHaveLength(1);
  expect(warnings[0]).toMatch(
    /^sqlite sink r\.db \(table results\): columns: output\.sentiment has no value: in row "a" \(and maybe others\) `output` is text \("positive, I think"\), which has no fields\. Ask for JSON output/,
  );
  rmSync(dir, { recursive: true });
});

test("a table the old default created: the default writes into it; listed columns it lacks are added", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sink-sqlite-"));
  const file = join(dir, "r.db");
  const db = new Database(file);
  // the table every earlier version created
  db.exec(`CREATE TABLE results (id TEXT PRIMARY KEY NOT NULL, status TEXT NOT NULL, output TEXT, response TEXT,
    usage TEXT, model TEXT, batch_id TEXT, attempts INTEGER, input TEXT, error TEXT, source_file TEXT,
    source_line INTEGER, created_at TEXT NOT NULL);
    INSERT INTO results VALUES ('old', 'success', 'o', '{}', NULL, NULL, NULL, 1, '{}', NULL, NULL, NULL, 'then');`);
  db.close();
  const lean = await open(dir, { path: "r.db" });
  await lean.write([success("a", { sentiment: "neutral" })]);
  await lean.commit("k1");
  await lean.close();
  const more = await open(dir, { path: "r.db", columns: ["id", "status", "output.sentiment", "created_at"] });
  await more.write([success("b", { sentiment: "negative" })]);
  await more.commit("k2");
  await more.close();
  expect(query(file, "SELECT id, response, output, output_sentiment FROM results ORDER BY id")).toEqual([
    { id: "a", response: null, output: '{"sentiment":"neutral"}', output_sentiment: null },
    { id: "b", response: null, output: null, output_sentiment: "negative" },
    { id: "old", response: "{}", output: "o", output_sentiment: null },
  ]);
  // created_at is NOT NULL there: columns that leave it out fail at open, with the fix
  await expect(open(dir, { path: "r.db", columns: ["id", "output"] })).rejects.toMatchObject({
    code: "PLUGIN_FAILED",
    message: expect.stringContaining("NOT NULL column(s) created_at"),
    hint: expect.stringContaining("columns: [id, status, output, created_at]"),
  });
  rmSync(dir, { recursive: true });
});

test("a refused open leaves the table as it was; its hint lists the columns as entries that fix it", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sink-sqlite-"));
  const file = join(dir, "r.db");
  // the default columns: created_at is NOT NULL
  const first = await open(dir, { path: "r.db" });
  await first.write([success("a", { echo: "hi" })]);
  const checkpoint = await first.commit("k1");
  await first.close();
  const schema = () => query(file, "SELECT name, sql FROM sqlite_master ORDER BY name");
  const before = schema();
  const columns = ["output.echo", { tokens: "usage.total_tokens" }];
  const refused = await open(dir, { path: "r.db", columns }).catch((error: unknown) => error);
  expect(refused).toMatchObject({ code: "PLUGIN_FAILED" });
  const { message, hint } = refused as { message: string; hint: string };
  expect({ message: message.replace(dir, "<dir>"), hint }).toMatchInlineSnapshot(`
    {
      "hint": "Add them to columns (e.g. columns: [id, status, output.echo, { tokens: usage.total_tokens }, created_at]), or name another table.",
      "message": "<dir>/r.db: table "results" has NOT NULL column(s) created_at that the sink's columns do not write",
    }
  `);
  // no column was added: the open checks before it alters
  expect(schema()).toEqual(before);
  // nor by an open that its checkpoint refuses
  await expect(open(dir, { path: "r.db", columns: [...columns, "created_at"] }, 99)).rejects.toMatchObject({
    code: "PLUGIN_FAILED",
    message: expect.stringContaining("no commit 99"),
  });
  expect(schema()).toEqual(before);
  // the hint's list, as written there, opens the table and writes each column
  const fixed = await open(
    dir,
    {
      path: "r.db",
      columns: ["id", "status", "output.echo", { tokens: "usage.total_tokens" }, "created_at"],
    },
    checkpoint,
  );
  await fixed.write([success("b", { echo: "there" })]);
  await fixed.commit("k2");
  await fixed.close();
  expect(query(file, "SELECT id, output_echo, tokens FROM results ORDER BY id")).toEqual([
    { id: "a", output_echo: null, tokens: null },
    { id: "b", output_echo: "there", tokens: 3 },
  ]);
  rmSync(dir, { recursive: true });
});

test("a NOT NULL column no entry can write, or two names SQLite takes for one, are refused before the table changes", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sink-sqlite-"));
  const file = join(dir, "r.db");
  const db = new Database(file);
  db.exec(`CREATE TABLE results (id TEXT PRIMARY KEY NOT NULL, status TEXT NOT NULL, note TEXT NOT NULL,
    "Created_At" TEXT NOT NULL);
    CREATE TABLE stamped (id TEXT PRIMARY KEY NOT NULL, "Created_At" TEXT NOT NULL)`);
  db.close();
  const schema = () => query(file, "SELECT name, sql FROM sqlite_master WHERE name = 'results'");
  const before = schema();
  // note is no row field: no entry writes it; Created_At is written by created_at
  await expect(open(dir, { path: "r.db", columns: ["output"] })).rejects.toMatchObject({
    code: "PLUGIN_FAILED",
    message: expect.stringContaining("NOT NULL column(s) note, Created_At"),
    hint: "No columns entry writes note (not a row field): name another table, or recreate this one with them nullable or with a default.",
  });
  expect(schema()).toEqual(before);
  await expect(open(dir, { path: "r.db", table: "stamped", columns: ["output"] })).rejects.toMatchObject({
    hint: "Add them to columns (e.g. columns: [id, status, output, created_at]), or name another table.",
  });
  // two names SQLite takes for one (ADD COLUMN of the second would fail after the first) are
  // refused by the option itself, before anything opens
  expect(
    sink.options
      .safeParse({
        path: "r.db",
        columns: [{ Tokens: "usage.total_tokens" }, { tokens: "usage.input_tokens" }],
      })
      .error?.issues.map((i) => i.message),
  ).toEqual(['"tokens" is named twice']);
  expect(schema()).toEqual(before);
  rmSync(dir, { recursive: true });
});

test("columns that are not row paths or SQL names are refused with their place", () => {
  const issues = (columns: unknown) =>
    sink.options.safeParse({ path: "r.db", columns }).error?.issues.map((i) => [i.path.join("."), i.message]);
  expect(issues(["id", "outptu"])?.[0]?.[0]).toMatch(/^columns/);
  expect(issues(["id", "output.a-b"])).toEqual([
    ["columns.1", expect.stringContaining("not a plain SQL identifier")],
  ]);
  expect(issues(["id", { n: "usage" }, { n: "model" }])).toEqual([["columns.2", '"n" is named twice']]);
  expect(issues(["id", "created_at", "source_line"])).toBeUndefined();
});
