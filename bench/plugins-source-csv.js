// Benchmark: source-csv over a generated 1M-row CSV file (~150-byte rows; every 10th has a quoted
// field with a comma, escaped quotes and an embedded newline; two typed columns). Prints time,
// rows/s and peak RSS (targets: >= 200,000 rows/s, < 150 MB).
// Usage: pnpm build && node bench/plugins-source-csv.js [rows]
import { closeSync, mkdirSync, openSync, renameSync, statSync, writeSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { benchArgs, benchSource } from "./lib/source-bench.js";

const rows = Number(benchArgs[0] ?? 1_000_000);
const dataDir = fileURLToPath(new URL(".data/", import.meta.url));
const file = `${dataDir}source-${rows}.csv`;

await benchSource({
  script: import.meta.url,
  file,
  generate,
  plugin: "source-csv",
  options: { types: { stars: "integer", verified: "boolean" } },
  targetRate: 200_000,
});

function generate() {
  mkdirSync(dataDir, { recursive: true });
  const fd = openSync(`${file}.tmp`, "w");
  const words = ["great", "terrible", "fine", "works", "broke", "again", "ünïcødé", "value", "would", "buy"];
  writeSync(fd, "id,stars,product,text,verified,created\n");
  for (let id = 0; id < rows; ) {
    const lines = [];
    for (let i = 0; i < 4000 && id < rows; i++, id++) {
      const text = Array.from({ length: 12 }, (_, j) => words[(id * 7 + j * 3) % words.length]).join(" ");
      const field = id % 10 === 0 ? `"${text}, ""quoted""\nsecond line"` : text;
      const created = "2026-11-27T16:00:00Z";
      lines.push(
        `rev-${String(id).padStart(9, "0")},${(id % 5) + 1},p-${id % 997},${field},${id % 3 === 0},${created}`,
      );
    }
    writeSync(fd, `${lines.join("\n")}\n`);
  }
  closeSync(fd);
  renameSync(`${file}.tmp`, file);
  console.log(`generated ${file}: ${(statSync(file).size / 1e6).toFixed(0)} MB, ${rows} rows`);
}
