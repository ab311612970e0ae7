// An existing table whose id is not unique (a table the user made: `id TEXT`, a composite key, a
// partial unique index) cannot take the upsert by id: the open failed with SQLite's "ON CONFLICT
// clause does not match any PRIMARY KEY or UNIQUE constraint", naming no table and no fix. It is
// refused at open with the index that makes it work; the keys SQLite's upsert takes still open.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { SuccessRow } from "@batchpipe/core/plugin";
import { createTestContext } from "@batchpipe/core/testing";
import Database from "better-sqlite3";
import { expect, test } from "vitest";
import sink from "../src/index.js";

const row: SuccessRow = {
  id: "7",
  status: "success",
  output: "yes",
  response: {},
  usage: { input_tokens: 1, output_tokens: 1, total_tokens: 2 },
  model: "gpt-4o-mini",
  batch_id: "batch_1",
  attempts: 1,
  input: { id: "7" },
  source: { file: "/data/in.jsonl", line: 1 },
};

/** a database holding `sql`'s table `mine`; the sink opened on it, then a row written and committed */
async function writeInto(sql: string) {
  const dir = mkdtempSync(join(tmpdir(), "sink-sqlite-id-"));
  const file = join(dir, "out.db");
  const db = new Database(file);
  db.exec(sql);
  db.close();
  const handle = await sink.open(createTestContext(dir, sink.options.parse({ path: file, table: "mine" })));
  try {
    await handle.write([row, { ...row, output: "again" }]);
    await handle.commit("k1");
  } finally {
    await handle.close();
  }
  const check = new Database(file, { readonly: true });
  try {
    return check.prepare("SELECT id AS id, output FROM mine").all();
  } finally {
    check.close();
  }
}

test.each([
  ["id TEXT", "CREATE TABLE mine (id TEXT, status TEXT, output TEXT)"],
  ["a composite key", "CREATE TABLE mine (id TEXT, status TEXT, output TEXT, PRIMARY KEY (id, status))"],
  [
    "a partial unique index",
    "CREATE TABLE mine (id TEXT, status TEXT, output TEXT); CREATE UNIQUE INDEX m ON mine (id) WHERE status IS NOT NULL",
  ],
])("an id that is not unique (%s) is refused at open with the index that fixes it", async (_, sql) => {
  const refused = writeInto(sql);
  await expect(refused).rejects.toMatchObject({
    code: "PLUGIN_FAILED",
    message: expect.stringMatching(
      /table "mine" has an id column that is not its primary key nor unique, so rows cannot be upserted by id$/,
    ),
    hint: 'Make it unique (CREATE UNIQUE INDEX "mine_id" ON "mine" (id), once its ids are unique), or name another table.',
  });
});

test.each([
  ["a primary key", "CREATE TABLE mine (id TEXT PRIMARY KEY, status TEXT, output TEXT)"],
  ["an INTEGER PRIMARY KEY named ID", "CREATE TABLE mine (ID INTEGER PRIMARY KEY, status TEXT, output TEXT)"],
  ["UNIQUE", "CREATE TABLE mine (id TEXT UNIQUE, status TEXT, output TEXT)"],
  [
    "the hint's index",
    'CREATE TABLE mine (id TEXT, status TEXT, output TEXT); CREATE UNIQUE INDEX "mine_id" ON "mine" (id)',
  ],
])("an id that is unique (%s) takes the upsert", async (_, sql) => {
  expect(await writeInto(sql)).toEqual([{ id: expect.anything(), output: "again" }]);
});

// the table's own column types and constraints refused a row: SQLite's message, and what to do
test.each([
  [
    "text ids in an INTEGER PRIMARY KEY",
    "CREATE TABLE mine (id INTEGER PRIMARY KEY, status TEXT, output TEXT)",
    "abc",
    /write failed: datatype mismatch \(SQLITE_MISMATCH\)$/,
    /^A value does not fit its column's type \(an INTEGER PRIMARY KEY id takes integers only/,
  ],
  [
    "a CHECK",
    "CREATE TABLE mine (id TEXT PRIMARY KEY, status TEXT, output TEXT CHECK (length(output) < 3))",
    "7",
    /write failed: CHECK constraint failed: length\(output\) < 3 \(SQLITE_CONSTRAINT_CHECK\)$/,
    /^A constraint of the table \(the message names it\) refused a row the sink writes/,
  ],
])("a row the table refuses (%s): PLUGIN_FAILED with what to do", async (_, sql, id, message, hint) => {
  const dir = mkdtempSync(join(tmpdir(), "sink-sqlite-id-"));
  const file = join(dir, "out.db");
  const db = new Database(file);
  db.exec(sql);
  db.close();
  const handle = await sink.open(createTestContext(dir, sink.options.parse({ path: file, table: "mine" })));
  try {
    await expect(handle.write([{ ...row, id, output: "long" }])).rejects.toMatchObject({
      code: "PLUGIN_FAILED",
      message: expect.stringMatching(message),
      hint: expect.stringMatching(hint),
    });
  } finally {
    await handle.close();
  }
});
