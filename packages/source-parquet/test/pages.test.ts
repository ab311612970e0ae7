import { join } from "node:path";
import type { SourceRecord } from "@batchpipe/core/plugin";
import { readSource } from "@batchpipe/core/testing";
import { type AsyncBuffer, asyncBufferFromFile, parquetMetadataAsync } from "hyparquet";
import { describe, expect, test } from "vitest";
import { tempDir } from "../../batchpipe/test/support/harness.js";
import source from "../src/index.js";
import { readRowGroup } from "../src/row-group.js";
// @ts-expect-error: a plain .mjs helper (parquetjs-lite has no types)
import { writeParquet } from "./fixtures/write-fixtures.mjs";

// one row group of 5,000 rows in data pages of 700 rows: pages and batches end at different rows
const ROWS = 5000;
const columns = {
  id: { type: "UTF8" },
  n: { type: "INT32" },
  text: { type: "UTF8" },
  note: { type: "UTF8", optional: true },
  meta: { fields: { product: { type: "UTF8" }, tags: { type: "UTF8", repeated: true } } },
};
const row = (i: number) => ({
  id: `r${i}`,
  n: i,
  text: noise(i, 300),
  note: i % 7 === 0 ? null : `note ${i}`,
  // 0 to 3 tags: an empty list too
  meta: { product: `p-${i % 13}`, tags: ["a", "b", "c"].slice(0, i % 4) },
});
const written = (i: number) => {
  const { note, ...rest } = row(i);
  return note === null ? rest : { ...rest, note };
};
// hyparquet reads an empty bare repeated field as null (its own parquetRead does the same)
const read = (i: number) => {
  const r = row(i);
  return { ...r, meta: { ...r.meta, tags: r.meta.tags.length ? r.meta.tags : null } };
};

/** text that does not compress, so a column chunk is larger than one read from the file */
function noise(seed: number, length: number): string {
  let x = seed * 2654435761 + 1;
  let text = "";
  while (text.length < length) {
    x = (x * 1103515245 + 12345) % 2147483648;
    text += x.toString(36);
  }
  return text.slice(0, length);
}

async function writeFile(dir: string, useDataPageV2: boolean): Promise<string> {
  const file = join(dir, `pages-v${useDataPageV2 ? 2 : 1}.parquet`);
  const rows = Array.from({ length: ROWS }, (_, i) => written(i));
  await writeParquet(file, columns, rows, { rowGroupSize: ROWS, pageSize: 700, useDataPageV2 });
  return file;
}

describe.each([true, false])("a big row group in many data pages (data page v2: %s)", (v2) => {
  test("every row in order, nested and optional values intact; resume at page edges", async () => {
    const dir = tempDir();
    const file = await writeFile(dir, v2);
    const metadata = await parquetMetadataAsync(await asyncBufferFromFile(file));
    expect(metadata.row_groups).toHaveLength(1);
    const items = (await readSource(source, dir, { path: file })) as SourceRecord[];
    expect(items.map((item) => item.data)).toEqual(Array.from({ length: ROWS }, (_, i) => read(i)));
    for (const k of [0, 255, 256, 698, 699, 700, 2100, ROWS - 2, ROWS - 1]) {
      const rest = (await readSource(source, dir, { path: file }, items[k]!.cursor)) as SourceRecord[];
      expect(rest.length).toBe(ROWS - k - 1);
      expect(rest[0]?.data).toEqual(k + 1 < ROWS ? read(k + 1) : undefined);
      expect(rest.at(-1)?.data).toEqual(k + 1 < ROWS ? read(ROWS - 1) : undefined);
    }
  });
});

test("a row group is read in windows of its column chunks and returned in batches, not whole", async () => {
  const dir = tempDir();
  const file = await writeFile(dir, true);
  const whole = await asyncBufferFromFile(file);
  let largestRead = 0;
  let bytesRead = 0;
  const counted: AsyncBuffer = {
    byteLength: whole.byteLength,
    slice: (start, end) => {
      largestRead = Math.max(largestRead, (end ?? whole.byteLength) - start);
      bytesRead += (end ?? whole.byteLength) - start;
      return whole.slice(start, end);
    },
  };
  const metadata = await parquetMetadataAsync(whole);
  const chunkBytes = metadata.row_groups[0]!.columns.map((chunk) =>
    Number(chunk.meta_data!.total_compressed_size),
  );
  const batches = readRowGroup(counted, metadata, {
    columns: ["id", "n", "text", "note", "meta"],
    group: 0,
    skip: 0,
  });
  const first = await batches.next();
  expect(first.value!.length).toBeGreaterThan(0);
  expect(first.value!.length).toBeLessThanOrEqual(700);
  // the first batch needed the first page of each column, not the whole group
  expect(bytesRead).toBeLessThan(chunkBytes.reduce((a, b) => a + b, 0) / 2);
  let rows = first.value!.length;
  for await (const batch of batches) {
    expect(batch.length).toBeLessThanOrEqual(256);
    rows += batch.length;
  }
  expect(rows).toBe(ROWS);
  expect(largestRead).toBeLessThanOrEqual(256 * 1024);
});
