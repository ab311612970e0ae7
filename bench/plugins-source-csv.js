// Benchmark: source-csv over a generated 1M-row CSV file (~150-byte rows; every 10th has a quoted
// field with a comma and an embedded newline). Prints time, rows/s, MB/s and peak RSS
// (targets: >= 200,000 rows/s, < 150 MB). Usage: pnpm build && node bench/plugins-source-csv.js [rows]
import { execFileSync } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, renameSync, statSync, writeSync } from "node:fs";
import os from "node:os";
import { fileURLToPath } from "node:url";

const rows = Number(process.argv[2] ?? 1_000_000);
const dataDir = fileURLToPath(new URL(".data/", import.meta.url));
const file = `${dataDir}source-${rows}.csv`;

if (process.argv[3] === "--measure") {
  await measure();
} else {
  if (!existsSync(file)) generate();
  // measure in a fresh process so generation does not count towards peak RSS
  execFileSync(process.execPath, [fileURLToPath(import.meta.url), String(rows), "--measure"], {
    stdio: "inherit",
  });
}

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
      lines.push(
        `rev-${String(id).padStart(9, "0")},${(id % 5) + 1},p-${id % 997},${field},${id % 3 === 0},2026-11-27T16:00:00Z`,
      );
    }
    writeSync(fd, `${lines.join("\n")}\n`);
  }
  closeSync(fd);
  renameSync(`${file}.tmp`, file);
  console.log(`generated ${file}: ${(statSync(file).size / 1e6).toFixed(0)} MB, ${rows} rows`);
}

async function measure() {
  const { default: source } = await import("../packages/source-csv/dist/index.js");
  const bytes = statSync(file).size;
  const started = performance.now();
  const cpu = process.cpuUsage();
  let records = 0;
  let invalid = 0;
  const options = source.options.parse({ path: file, types: { stars: "integer", verified: "boolean" } });
  const ctx = {
    options,
    resolvePath: (p) => p,
    logger: { debug() {}, info() {}, warn() {}, error() {} },
    signal: new AbortController().signal,
    checkpoint: undefined,
  };
  for await (const item of source.read(ctx)) {
    if ("invalid" in item) invalid++;
    else records++;
  }
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  const cpuSeconds = (used.user + used.system) / 1e6;
  const peakRssMb = process.resourceUsage().maxRSS / 1024;
  const rate = records / seconds;
  console.log(
    [
      `source-csv: ${(bytes / 1e6).toFixed(0)} MB, ${records} rows (${invalid} invalid)`,
      `  time        ${seconds.toFixed(2)} s, CPU ${cpuSeconds.toFixed(2)} s`,
      `  rows/s      ${Math.round(rate).toLocaleString("en-US")} (per CPU-s: ${Math.round(records / cpuSeconds).toLocaleString("en-US")}; target >= 200,000) ${rate >= 200_000 ? "OK" : "MISSED"}`,
      `  MB/s        ${(bytes / 1e6 / seconds).toFixed(0)}`,
      `  peak RSS    ${peakRssMb.toFixed(0)} MB (target < 150 MB) ${peakRssMb < 150 ? "OK" : "MISSED"}`,
      `  load average ${os
        .loadavg()
        .map((n) => n.toFixed(1))
        .join(" ")} on ${os.availableParallelism()} cores`,
    ].join("\n"),
  );
}
