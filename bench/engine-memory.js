// `node bench/engine-memory.js` (after `pnpm build`): peak RSS of `batchpipe run` (the real CLI, in
// its own process; the emulator runs in another) on 100,000 and 1,000,000 records, jsonl + sqlite
// sinks. Target: 1M under 300 MB and within 1.3x of 100k. BENCH_SIZES=20000,200000 overrides the sizes.
// Prints a table; the figures also go to bench/.data/engine-memory.json.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { DATA_DIR, ensureInput } from "./lib/data.js";
import { INSTANT, startEmulator } from "./lib/emulator.js";
import { runMeasured } from "./lib/measure.js";
import { chatSpec } from "./lib/spec.js";

const ROOT = path.join(path.dirname(fileURLToPath(import.meta.url)), "..");
const CLI = path.join(ROOT, "packages/batchpipe/bin/batchpipe.js");
const sizes = (process.env.BENCH_SIZES ?? "100000,1000000").split(",").map(Number);

const emulator = await startEmulator(INSTANT);
const rows = [];
try {
  for (const n of sizes) {
    const input = await ensureInput(n);
    const work = fs.mkdtempSync(path.join(os.tmpdir(), `bench-engine-${n}-`));
    const spec = path.join(work, "pipeline.yaml");
    fs.writeFileSync(spec, pipelineYaml(input, emulator.url));
    const phases = {};
    const result = await runMeasured({
      script: CLI,
      args: ["run", spec, "--json"],
      cwd: work,
      env: { OPENAI_API_KEY: "sk-bench", NO_COLOR: "1" },
      onLine(line, atMs) {
        if (line.startsWith('{"type":"planned"')) phases.readMs = atMs;
        if (line.startsWith('{"type":"run_finished"')) phases.report = JSON.parse(line).report;
      },
    });
    if (result.code !== 0)
      throw new Error(`batchpipe run exited ${result.code}: ${result.stderr.slice(-2000)}`);
    const report = phases.report;
    const row = {
      records: n,
      wallS: +(result.wallMs / 1000).toFixed(1),
      readPhaseS: +((phases.readMs ?? 0) / 1000).toFixed(1),
      recordsPerS: Math.round(n / (result.wallMs / 1000)),
      cpuS: result.cpuMs === null ? null : +(result.cpuMs / 1000).toFixed(1),
      peakRssMB: result.peakRssMB === null ? null : Math.round(result.peakRssMB),
      batches: report.batches,
      succeeded: report.succeeded,
      unaccounted: report.unaccounted,
      outputMB: Math.round(fs.statSync(path.join(work, "out/results.jsonl")).size / 1e6),
    };
    rows.push(row);
    console.log(JSON.stringify(row));
    fs.rmSync(work, { recursive: true, force: true });
  }
} finally {
  await emulator.close();
}

console.log("\nrecords    wall s  read s  rec/s    cpu s  peak RSS MB  batches  out MB");
for (const r of rows) {
  console.log(
    `${String(r.records).padEnd(10)} ${String(r.wallS).padStart(6)}  ${String(r.readPhaseS).padStart(6)}  ${String(r.recordsPerS).padStart(6)}  ${String(r.cpuS).padStart(6)}  ${String(r.peakRssMB).padStart(11)}  ${String(r.batches).padStart(7)}  ${String(r.outputMB).padStart(6)}`,
  );
}
if (rows.length >= 2) {
  const base = rows[0];
  const big = rows[rows.length - 1];
  const ratio = big.peakRssMB / base.peakRssMB;
  console.log(
    `\npeak RSS ${big.records.toLocaleString("en-US")}: ${big.peakRssMB} MB (target < 300) · ratio to ${base.records.toLocaleString("en-US")}: ${ratio.toFixed(2)}x (target ≤ 1.3x)`,
  );
}
fs.mkdirSync(DATA_DIR, { recursive: true });
fs.writeFileSync(
  path.join(DATA_DIR, "engine-memory.json"),
  JSON.stringify({ at: new Date().toISOString(), load: os.loadavg(), rows }, null, 2),
);

function pipelineYaml(input, url) {
  return chatSpec({
    name: "bench-engine",
    baseUrl: url,
    source: `{ use: jsonl, path: "${input}" }`,
    system: "Classify the sentiment of the review.",
    batch: { poll_interval: "200ms" },
    sinks: [
      "{ use: jsonl, path: ./out/results.jsonl }",
      ...(process.env.BENCH_NO_SQLITE ? [] : ["{ use: sqlite, path: ./out/results.db, table: results }"]),
    ],
  });
}
