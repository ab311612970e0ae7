// Benchmark: source-jsonl over a generated 1 GB JSONL file (~250-byte records).
// Prints time, records/s, MB/s and peak RSS (target < 150 MB). Usage: pnpm build && node bench/plugins-source-jsonl.js [sizeMB]
import { closeSync, mkdirSync, openSync, renameSync, writeSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { benchArgs, benchSource } from "./lib/source-bench.js";

const sizeMb = Number(benchArgs[0] ?? 1024);
const dataDir = fileURLToPath(new URL(".data/", import.meta.url));
const file = `${dataDir}source-${sizeMb}mb.jsonl`;

await benchSource({ script: import.meta.url, file, generate, plugin: "source-jsonl", options: {} });

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
