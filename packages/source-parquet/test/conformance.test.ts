import { join } from "node:path";
import { testSource } from "@batchpipe/core/testing";
import { test } from "vitest";
import source from "../src/index.js";
// @ts-expect-error: a plain .mjs helper (parquetjs-lite has no types)
import { writeParquet } from "./fixtures/write-fixtures.mjs";

const checks = testSource(source, {
  writeFixture: async (dir, records) => {
    const columns = {
      id: { type: "UTF8" },
      text: { type: "UTF8" },
      n: { type: "INT64" },
      nested: { type: "JSON" },
    };
    // small row groups, so resume points fall inside and between groups
    await writeParquet(join(dir, "in.parquet"), columns, records, { rowGroupSize: 7 });
    return { path: "in.parquet" };
  },
  invalidOptions: [
    { options: {}, path: ["path"] },
    { options: { path: "x.parquet", columns: [] }, path: ["columns"] },
    { options: { path: "x.parquet", row_groups: 1 }, path: [] },
  ],
});

for (const check of checks) test(check.name, check.run);
