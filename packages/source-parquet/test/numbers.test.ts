// DECIMAL and FLOAT columns arrive as the file holds them (exact-numbers.ts): a DECIMAL as the
// exact decimal string, a FLOAT as the shortest decimal of its float32; real files written by
// parquetjs-lite, the DECIMAL annotation set in their footer.
import { join } from "node:path";
import type { SourceRecord } from "@batchpipe/core/plugin";
import { readSource } from "@batchpipe/core/testing";
import { describe, expect, test } from "vitest";
import { tempDir } from "../../batchpipe/test/support/harness.js";
import source from "../src/index.js";
// @ts-expect-error: a plain .mjs helper (parquetjs-lite has no types)
import { markDecimal, writeParquet } from "./fixtures/write-fixtures.mjs";

const columns = {
  id: { type: "UTF8" },
  amount: { type: "INT64" }, // DECIMAL(18,2)
  small: { type: "INT32", optional: true }, // DECIMAL(9,3)
  price: { type: "FLOAT" },
  prices: { type: "FLOAT", repeated: true },
  ratio: { type: "DOUBLE" },
};
const rows = [
  { id: "a", amount: 9007199254740991n, small: -5, price: 19.99, prices: [0.1, 3.3], ratio: 0.1 },
  { id: "b", amount: 500n, small: undefined, price: 1e-7, prices: [0.25], ratio: 19.99 },
  { id: "c", amount: -1n, small: 123456789, price: 16777217, prices: [-2.5], ratio: 1 / 3 },
];

describe("numbers as the file holds them", () => {
  test("DECIMAL values are exact decimal strings; FLOAT values the shortest decimal of their float32", async () => {
    const dir = tempDir();
    const file = join(dir, "numbers.parquet");
    for (const pageSize of [undefined, 1]) {
      await writeParquet(file, columns, rows, { rowGroupSize: 2, ...(pageSize ? { pageSize } : {}) });
      markDecimal(file, { amount: { scale: 2, precision: 18 }, small: { scale: 3, precision: 9 } });
      const items = (await readSource(source, dir, { path: file })) as SourceRecord[];
      expect(items.map((item) => item.data)).toEqual([
        {
          id: "a",
          amount: "90071992547409.91",
          small: "-0.005",
          price: 19.99,
          prices: [0.1, 3.3],
          ratio: 0.1,
        },
        { id: "b", amount: "5.00", small: null, price: 1e-7, prices: [0.25], ratio: 19.99 },
        { id: "c", amount: "-0.01", small: "123456.789", price: 16777216, prices: [-2.5], ratio: 1 / 3 },
      ]);
    }
  });
});
