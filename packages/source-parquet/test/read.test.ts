import { copyFileSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Checkpoint, SourceRecord } from "@batchpipe/core/plugin";
import { readSource } from "@batchpipe/core/testing";
import { asyncBufferFromFile, parquetMetadataAsync } from "hyparquet";
import { describe, expect, test } from "vitest";
import { tempDir } from "../../batchpipe/test/support/harness.js";
import source from "../src/index.js";
// @ts-expect-error: a plain .mjs helper (parquetjs-lite has no types)
import { reviews, writeParquet } from "./fixtures/write-fixtures.mjs";

const FIXTURE = fileURLToPath(new URL("fixtures/reviews.snappy.parquet", import.meta.url));

const read = async (dir: string, options: Record<string, unknown>, checkpoint?: Checkpoint) =>
  (await readSource(source, dir, options, checkpoint)) as SourceRecord[];

describe("a file written by parquetjs-lite (snappy, a nested column, three row groups)", () => {
  test("the fixture is what it claims to be", async () => {
    const metadata = await parquetMetadataAsync(await asyncBufferFromFile(FIXTURE));
    expect(metadata.row_groups.map((group) => Number(group.num_rows))).toEqual([5, 5, 2]);
    const codecs = new Set(metadata.row_groups.flatMap((g) => g.columns.map((c) => c.meta_data?.codec)));
    expect([...codecs]).toEqual(["SNAPPY"]);
    expect(metadata.created_by).toMatch(/parquet/i);
  });

  test("every row, in order, with nested values as JSON and positions by row number", async () => {
    const items = await read(tempDir(), { path: FIXTURE });
    expect(items).toHaveLength(12);
    expect(items.map((item) => item.position.line)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
    expect(items[1]!.data).toEqual({
      id: "rev-001",
      text: "review number 1",
      stars: 2, // INT64: a number, not a bigint
      price: 10.5,
      meta: { product: "p-1", tags: ["fast", "cheap"], author: { name: "author 1", verified: false } },
      created: "2026-11-02T12:00:00.000Z",
    });
    expect(items[3]!.data.text).toBe(reviews.rows[3].text);
    expect(items[4]!.data.price).toBeNull();
    // every record survives JSON unchanged
    for (const item of items) expect(JSON.parse(JSON.stringify(item.data))).toEqual(item.data);
  });

  test("resume by row: inside a row group, at its end, and after the last row", async () => {
    const dir = tempDir();
    const items = await read(dir, { path: FIXTURE });
    for (const k of [0, 3, 4, 9, 11]) {
      const rest = await read(dir, { path: FIXTURE }, JSON.parse(JSON.stringify(items[k]!.cursor)));
      expect(rest.map((item) => item.data.id)).toEqual(items.slice(k + 1).map((item) => item.data.id));
    }
    await expect(read(dir, { path: FIXTURE }, { file: FIXTURE, row: 40 })).rejects.toMatchObject({
      code: "SOURCE_FAILED",
      message: expect.stringContaining("fewer rows"),
    });
  });

  test("columns: only those are read; a column the file lacks is SOURCE_FAILED naming the ones it has", async () => {
    const dir = tempDir();
    const items = await read(dir, { path: FIXTURE, columns: ["id", "meta"] });
    expect(Object.keys(items[0]!.data)).toEqual(["id", "meta"]);
    await expect(read(dir, { path: FIXTURE, columns: ["id", "body"] })).rejects.toMatchObject({
      code: "SOURCE_FAILED",
      message: expect.stringContaining('has no column "body"'),
      hint: "Its columns: id, text, stars, price, meta, created.",
    });
  });
});

describe("inputs", () => {
  test("gzip-compressed columns and 64-bit integers beyond 2^53", async () => {
    const dir = tempDir();
    const columns = {
      id: { type: "UTF8", compression: "GZIP" },
      big: { type: "INT64", compression: "GZIP" },
    };
    await writeParquet(join(dir, "in.parquet"), columns, [{ id: "a", big: 2n ** 60n }]);
    const items = await read(dir, { path: "in.parquet" });
    expect(items[0]!.data).toEqual({ id: "a", big: "1152921504606846976" });
  });

  test("a folder reads every *.parquet in it, sorted; a glob its matches; resume continues in the next file", async () => {
    const dir = tempDir();
    mkdirSync(join(dir, "data"));
    const columns = { id: { type: "UTF8" } };
    await writeParquet(join(dir, "data/b.parquet"), columns, [{ id: "b1" }, { id: "b2" }]);
    await writeParquet(join(dir, "data/a.parquet"), columns, [{ id: "a1" }]);
    writeFileSync(join(dir, "data/notes.txt"), "not data");
    const items = await read(dir, { path: "data" });
    expect(items.map((item) => item.data.id)).toEqual(["a1", "b1", "b2"]);
    expect(items[1]!.position).toEqual({ file: join(dir, "data/b.parquet"), line: 1 });
    const rest = await read(dir, { path: "data" }, items[0]!.cursor);
    expect(rest.map((item) => item.data.id)).toEqual(["b1", "b2"]);
    copyFileSync(FIXTURE, join(dir, "data/c.parquet"));
    expect(await read(dir, { path: "data/[bc].parquet" })).toHaveLength(14);
  });

  test("a file rewritten since its cursor (same row count, other rows) is SOURCE_FAILED; an old cursor without footer is not checked", async () => {
    const dir = tempDir();
    const columns = { id: { type: "UTF8" } };
    const file = join(dir, "in.parquet");
    await writeParquet(file, columns, [{ id: "old1" }, { id: "old2" }, { id: "old3" }]);
    const cursor = JSON.parse(JSON.stringify((await read(dir, { path: "in.parquet" }))[0]!.cursor));
    await writeParquet(file, columns, [{ id: "new1" }, { id: "new2" }, { id: "new3" }]);
    await expect(read(dir, { path: "in.parquet" }, cursor)).rejects.toMatchObject({
      code: "SOURCE_FAILED",
      message: `cannot resume: ${file} changed since it was read: its footer (row groups, sizes, statistics) is not the one read`,
      hint: expect.stringContaining("batchpipe cancel"),
    });
    const { footer: _, ...earlier } = cursor;
    expect((await read(dir, { path: "in.parquet" }, earlier)).map((item) => item.data.id)).toEqual([
      "new2",
      "new3",
    ]);
  });

  test("a file that is not Parquet, and a cursor for a file no longer an input, are SOURCE_FAILED", async () => {
    const dir = tempDir();
    writeFileSync(join(dir, "bad.parquet"), "id,text\n1,x\n");
    await expect(read(dir, { path: "bad.parquet" })).rejects.toMatchObject({
      code: "SOURCE_FAILED",
      message: expect.stringContaining("is not a readable Parquet file"),
    });
    await expect(
      read(dir, { path: FIXTURE }, { file: join(dir, "gone.parquet"), row: 0 }),
    ).rejects.toMatchObject({
      code: "SOURCE_FAILED",
    });
  });
});
