// Benchmark: source-jsonl over a generated 1 GB JSONL file (~250-byte records).
// Prints time, records/s, MB/s and peak RSS (target < 150 MB). Usage: pnpm build && node bench/plugins-source-jsonl.js [sizeMB]
import { execFileSync } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, renameSync, statSync, writeSync } from "node:fs";
import os from "node:os";
import { fileURLToPath } from "node:url";

const sizeMb = Number(process.argv[2] ?? 1024);
const dataDir = fileURLToPath(new URL(".data/", import.meta.url));
const file = `${dataDir}source-${sizeMb}mb.jsonl`;

if (process.argv[3] === "--measure") {
  await measure();
} else {
  if (!existsSync(file)) generate();
  // measure in a fresh process so generation does not count towards peak RSS
  execFileSync(process.execPath, [fileURLToPath(import.meta.url), String(sizeMb), "--measure"], {
    stdio: "inherit",
  });
}

function generate() {
  mkdirSync(dataDir, { recursive: true });
  const started = performance.now();
  const target = sizeMb * 1024 * 1024;
  const fd = openSync(`${file}.tmp`, "w");
  let written = 0;
  let id = 0;
  const words = ["great", "terrible", "fine", "works", "broke", "again", "ünïcødé", "value", "would", "buy"];
  while (written < target) {
    const lines = [];
    for (let i = 0; i < 4000; i++, id++) {
      const text = Array.from({ length: 18 }, (_, j) => words[(id * 7 + j * 3) % words.length]).join(" ");
      lines.push(
        JSON.stringify({
          id: `rev-${String(id).padStart(9, "0")}`,
          stars: (id % 5) + 1,
          product: `p-${id % 997}`,
          text,
          verified: id % 3 === 0,
          tags: ["a", "b"],
          created: "2026-11-27T16:00:00Z",
        }),
      );
    }
    const chunk = Buffer.from(`${lines.join("\n")}\n`);
    writeSync(fd, chunk);
    written += chunk.length;
  }
  closeSync(fd);
  renameSync(`${file}.tmp`, file);
  console.log(
    `generated ${file}: ${(written / 1e6).toFixed(0)} MB, ${id} records in ${((performance.now() - started) / 1000).toFixed(1)} s`,
  );
}

async function measure() {
  const { default: source } = await import("../packages/source-jsonl/dist/index.js");
  const bytes = statSync(file).size;
  const started = performance.now();
  const cpu = process.cpuUsage();
  let records = 0;
  let invalid = 0;
  const options = source.options.parse({ path: file });
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
  console.log(
    [
      `source-jsonl: ${(bytes / 1e6).toFixed(0)} MB, ${records} records (${invalid} invalid)`,
      `  time        ${seconds.toFixed(2)} s, CPU ${cpuSeconds.toFixed(2)} s`,
      `  records/s   ${Math.round(records / seconds).toLocaleString("en-US")} (per CPU-s: ${Math.round(records / cpuSeconds).toLocaleString("en-US")})`,
      `  MB/s        ${(bytes / 1e6 / seconds).toFixed(0)}`,
      `  peak RSS    ${peakRssMb.toFixed(0)} MB (target < 150 MB) ${peakRssMb < 150 ? "OK" : "MISSED"}`,
      `  load average ${os
        .loadavg()
        .map((n) => n.toFixed(1))
        .join(" ")} on ${os.availableParallelism()} cores`,
    ].join("\n"),
  );
}
