// Benchmark: source-parquet over a generated 1M-row Parquet file written by parquetjs-lite (snappy,
// row groups of 100,000 rows by default, a nested `meta` struct with a list). Prints time, rows/s
// and peak RSS (targets: >= 200,000 rows/s, < 150 MB); the source decodes a data page of each column
// at a time (parquetjs-lite: 8,192 rows), so peak RSS does not follow the row group size: try
// [rowGroupRows] 20000, 100000 and 1000000 (one group). Usage: pnpm build && node bench/plugins-source-parquet.js [rows] [rowGroupRows]
import { mkdirSync, renameSync, statSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { benchArgs, benchSource } from "./lib/source-bench.js";

const rows = Number(benchArgs[0] ?? 1_000_000);
const dataDir = fileURLToPath(new URL(".data/", import.meta.url));
const groupRows = Number(benchArgs[1] ?? 100_000);
const file = `${dataDir}source-${rows}-groups-${groupRows}.parquet`;
await benchSource({
  script: import.meta.url,
  file,
  generate,
  plugin: "source-parquet",
  options: {},
  targetRate: 200_000,
  // touch a nested value, as a template would
  onRecord: (data) => {
    if (!Array.isArray(data.meta.tags)) throw new Error(`meta.tags of ${data.id} is not a list`);
  },
});

async function generate() {
  mkdirSync(dataDir, { recursive: true });
  const started = performance.now();
  // the fixture writer of the source's tests (parquetjs-lite, a devDependency of source-parquet)
  const { writeParquet } = await import("../packages/source-parquet/test/fixtures/write-fixtures.mjs");
  const words = ["great", "terrible", "fine", "works", "broke", "again", "ünïcødé", "value", "would", "buy"];
  const columns = {
    id: { type: "UTF8" },
    stars: { type: "INT32" },
    text: { type: "UTF8" },
    verified: { type: "BOOLEAN" },
    meta: { fields: { product: { type: "UTF8" }, tags: { type: "UTF8", repeated: true } } },
  };
  function* generateRows() {
    for (let id = 0; id < rows; id++) {
      yield {
        id: `rev-${String(id).padStart(9, "0")}`,
        stars: (id % 5) + 1,
        text: `${id} ${Array.from({ length: 12 }, (_, j) => words[(id * 7 + j * 3) % words.length]).join(" ")}`,
        verified: id % 3 === 0,
        meta: { product: `p-${id % 997}`, tags: ["a", "b", "c"].slice(0, (id % 3) + 1) },
      };
    }
  }
  await writeParquet(`${file}.tmp`, columns, generateRows(), { rowGroupSize: groupRows });
  renameSync(`${file}.tmp`, file);
  const seconds = ((performance.now() - started) / 1000).toFixed(0);
  const mb = (statSync(file).size / 1e6).toFixed(0);
  console.log(`generated ${file}: ${mb} MB, ${rows} rows in row groups of ${groupRows} in ${seconds} s`);
}
