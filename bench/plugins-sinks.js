// Benchmark: sink-sqlite and sink-jsonl writing SuccessRow-shaped rows, one commit per 50,000-row shard.
// Times only the sinks' write + commit. Rows are plain objects built outside the timed part, from an
// output line as the emulator writes it (JSON.parse, as the engine reads it) and the record.
// Targets: sqlite >= 100,000 rows/s, jsonl >= 200,000 rows/s.
// Usage: pnpm build && node bench/plugins-sinks.js [rows] [all|jsonl|sqlite] [full|lean] [default|whole|paths]
// The last argument is what the sinks keep: their default projection (DESIGN §1: no response, input
// nor source for a success), the whole row (`fields: all`, `columns: all`), or dotted paths into
// the output and usage (PATHS: a text, a real and two integers a row, the values a sqlite sink
// binds by their own type).
// Peak RSS is the process's so far: run one sink (jsonl or sqlite) for its own figure.
import { mkdtempSync, rmSync, statSync } from "node:fs";
import os, { tmpdir } from "node:os";
import { join } from "node:path";
import { buildRows, makeLines } from "./lib/sink-rows.js";

const total = Number(process.argv[2] ?? 1_000_000);
const only = process.argv[3]; // "jsonl" or "sqlite" to run one sink
// "full": a whole chat-completion body in `response` (~770 bytes a row, what the engine delivers);
// "lean": a one-field response (~440 bytes a row)
const shape = process.argv[4] ?? "full";
const projection = process.argv[5] ?? "default";
const whole = projection === "whole";
const paths = projection === "paths";
const PATHS = [
  "id",
  "output.sentiment",
  { confidence: "output.confidence" },
  { tokens: "usage.total_tokens" },
  { input_tokens: "usage.input_tokens" },
];
const SHARD = 50_000;
const WRITE_BATCH = 1000;

const { default: sqlite } = await import("../packages/sink-sqlite/dist/index.js");
const { default: jsonl } = await import("../packages/sink-jsonl/dist/index.js");

let baselineCpuRate = 0;
const kept = whole ? "the whole row" : paths ? "paths into output and usage" : "their default projection";
console.log(`rows: ${shape}; sinks keep: ${kept}`);
const results = [baseline()];
if (only !== "sqlite")
  results.push(
    await run(
      "sink-jsonl",
      jsonl,
      { path: "out/results.jsonl", ...(whole && { fields: "all" }), ...(paths && { fields: PATHS }) },
      200_000,
    ),
  );
if (only !== "jsonl") {
  results.push(
    await run(
      "sink-sqlite",
      sqlite,
      {
        path: "out/results.db",
        table: "results",
        ...(whole && { columns: "all" }),
        ...(paths && { columns: [...PATHS, "created_at"] }),
      },
      100_000,
    ),
  );
}
console.log(results.join("\n"));
console.log(
  `load average ${os
    .loadavg()
    .map((n) => n.toFixed(1))
    .join(" ")} on ${os.availableParallelism()} cores`,
);

async function run(label, plugin, rawOptions, target) {
  const dir = mkdtempSync(join(tmpdir(), "bench-sinks-"));
  const options = plugin.options.parse(rawOptions);
  const handle = await plugin.open({
    options,
    resolvePath: (p) => join(dir, p),
    logger: { debug() {}, info() {}, warn() {}, error() {} },
    signal: new AbortController().signal,
    checkpoint: undefined,
  });
  let sinkMs = 0;
  let cpuMs = 0;
  const wallStart = performance.now();
  const timed = async (call) => {
    const started = performance.now();
    const cpu = process.cpuUsage();
    await call();
    sinkMs += performance.now() - started;
    const used = process.cpuUsage(cpu);
    cpuMs += (used.user + used.system) / 1000;
  };
  for (let shard = 0; shard * SHARD < total; shard++) {
    const count = Math.min(SHARD, total - shard * SHARD);
    // rows are built a batch at a time, as the engine delivers them (it holds at most 500)
    for (let from = 0; from < count; from += WRITE_BATCH) {
      const rows = buildRows(
        shard,
        makeLines({ shard, from, count: Math.min(WRITE_BATCH, count - from), shardSize: SHARD, shape }),
      );
      await timed(() => handle.write(rows));
    }
    await timed(() => handle.commit(`shard-${shard}`));
  }
  await handle.close();
  const wallMs = performance.now() - wallStart;
  const size = statSync(join(dir, options.path)).size;
  rmSync(dir, { recursive: true, force: true });
  const rate = Math.round(total / (sinkMs / 1000));
  const cpuRate = Math.round(total / (cpuMs / 1000));
  return [
    `${label}: ${total.toLocaleString("en-US")} rows, commit every ${SHARD.toLocaleString("en-US")}, output ${(size / 1e6).toFixed(0)} MB (${Math.round(size / total)} bytes a row)`,
    `  sink time   ${(sinkMs / 1000).toFixed(2)} s, CPU ${(cpuMs / 1000).toFixed(2)} s (wall incl. building rows ${(wallMs / 1000).toFixed(2)} s)`,
    `  rows/s      ${rate.toLocaleString("en-US")} (target >= ${target.toLocaleString("en-US")}) ${rate >= target ? "OK" : "MISSED"}`,
    `  rows/CPU-s  ${cpuRate.toLocaleString("en-US")} (an idle core's rate); ${(cpuRate / baselineCpuRate).toFixed(2)}x the baseline`,
    `  peak RSS    ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB (process so far)`,
  ].join("\n");
}

/** the floor for any sink: JSON.stringify of every row, same rows, same process */
function baseline() {
  let ms = 0;
  let cpuMs = 0;
  let bytes = 0;
  for (const [shard, from, count] of batches()) {
    const rows = buildRows(shard, makeLines({ shard, from, count, shardSize: SHARD, shape }));
    const started = performance.now();
    const cpu = process.cpuUsage();
    for (const row of rows) bytes += JSON.stringify(row).length;
    ms += performance.now() - started;
    const used = process.cpuUsage(cpu);
    cpuMs += (used.user + used.system) / 1000;
  }
  baselineCpuRate = total / (cpuMs / 1000);
  return [
    `baseline (JSON.stringify of each row, ~${Math.round(bytes / total)} bytes): ${(ms / 1000).toFixed(2)} s, CPU ${(cpuMs / 1000).toFixed(2)} s`,
    `  rows/s      ${Math.round(total / (ms / 1000)).toLocaleString("en-US")}`,
    `  rows/CPU-s  ${Math.round(baselineCpuRate).toLocaleString("en-US")}`,
  ].join("\n");
}

/** [shard, first index, count] of every write batch */
function* batches() {
  for (let shard = 0; shard * SHARD < total; shard++) {
    const count = Math.min(SHARD, total - shard * SHARD);
    for (let from = 0; from < count; from += WRITE_BATCH)
      yield [shard, from, Math.min(WRITE_BATCH, count - from)];
  }
}
