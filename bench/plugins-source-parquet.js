// Benchmark: source-parquet over a generated 1M-row Parquet file written by parquetjs-lite (snappy,
// row groups of 100,000 rows, a nested `meta` struct with a list). Prints time, rows/s and peak RSS
// (targets: >= 200,000 rows/s, < 150 MB). Usage: pnpm build && node bench/plugins-source-parquet.js [rows]
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, renameSync, statSync } from "node:fs";
import os from "node:os";
import { fileURLToPath } from "node:url";

const rows = Number(process.argv[2] ?? 1_000_000);
const dataDir = fileURLToPath(new URL(".data/", import.meta.url));
const file = `${dataDir}source-${rows}.parquet`;

if (process.argv[3] === "--measure") {
  await measure();
} else {
  if (!existsSync(file)) await generate();
  // measure in a fresh process so generation does not count towards peak RSS
  execFileSync(process.execPath, [fileURLToPath(import.meta.url), String(rows), "--measure"], {
    stdio: "inherit",
  });
}

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
        text: Array.from({ length: 12 }, (_, j) => words[(id * 7 + j * 3) % words.length]).join(" "),
        verified: id % 3 === 0,
        meta: { product: `p-${id % 997}`, tags: ["a", "b", "c"].slice(0, (id % 3) + 1) },
      };
    }
  }
  await writeParquet(`${file}.tmp`, columns, generateRows(), { rowGroupSize: 100_000 });
  renameSync(`${file}.tmp`, file);
  console.log(
    `generated ${file}: ${(statSync(file).size / 1e6).toFixed(0)} MB, ${rows} rows in ${((performance.now() - started) / 1000).toFixed(0)} s`,
  );
}

async function measure() {
  const { default: source } = await import("../packages/source-parquet/dist/index.js");
  const bytes = statSync(file).size;
  const started = performance.now();
  const cpu = process.cpuUsage();
  let records = 0;
  let tags = 0;
  const options = source.options.parse({ path: file });
  const ctx = {
    options,
    resolvePath: (p) => p,
    logger: { debug() {}, info() {}, warn() {}, error() {} },
    signal: new AbortController().signal,
    checkpoint: undefined,
  };
  for await (const item of source.read(ctx)) {
    records++;
    tags += item.data.meta.tags.length;
  }
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  const cpuSeconds = (used.user + used.system) / 1e6;
  const peakRssMb = process.resourceUsage().maxRSS / 1024;
  const rate = records / seconds;
  console.log(
    [
      `source-parquet: ${(bytes / 1e6).toFixed(0)} MB, ${records} rows (${tags} nested tags)`,
      `  time        ${seconds.toFixed(2)} s, CPU ${cpuSeconds.toFixed(2)} s`,
      `  rows/s      ${Math.round(rate).toLocaleString("en-US")} (per CPU-s: ${Math.round(records / cpuSeconds).toLocaleString("en-US")}; target >= 200,000) ${rate >= 200_000 ? "OK" : "MISSED"}`,
      `  peak RSS    ${peakRssMb.toFixed(0)} MB (target < 150 MB) ${peakRssMb < 150 ? "OK" : "MISSED"}`,
      `  load average ${os
        .loadavg()
        .map((n) => n.toFixed(1))
        .join(" ")} on ${os.availableParallelism()} cores`,
    ].join("\n"),
  );
}
