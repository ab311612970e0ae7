// Benchmark: sink-sqlite and sink-jsonl writing SuccessRow-shaped rows, one commit per 50,000-row shard.
// Times only the sinks' write + commit (rows are built outside the timed part).
// Targets: sqlite >= 100,000 rows/s, jsonl >= 200,000 rows/s. Usage: pnpm build && node bench/plugins-sinks.js [rows]
import { mkdtempSync, rmSync, statSync } from "node:fs";
import os, { tmpdir } from "node:os";
import { join } from "node:path";

const total = Number(process.argv[2] ?? 1_000_000);
const only = process.argv[3]; // "jsonl" or "sqlite" to run one sink
// "full": a whole chat-completion body in `response` (~770 bytes a row, what the engine delivers);
// "lean": a one-field response (~440 bytes a row)
const shape = process.argv[4] ?? "full";
const SHARD = 50_000;
const WRITE_BATCH = 1000;

const { default: sqlite } = await import("../packages/sink-sqlite/dist/index.js");
const { default: jsonl } = await import("../packages/sink-jsonl/dist/index.js");

let baselineCpuRate = 0;
console.log(`rows: ${shape}`);
const results = [baseline()];
if (only !== "sqlite") results.push(await run("sink-jsonl", jsonl, { path: "out/results.jsonl" }, 200_000));
if (only !== "jsonl")
  results.push(await run("sink-sqlite", sqlite, { path: "out/results.db", table: "results" }, 100_000));
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
  for (let shard = 0; shard * SHARD < total; shard++) {
    const rows = makeShard(shard, Math.min(SHARD, total - shard * SHARD));
    const started = performance.now();
    const cpu = process.cpuUsage();
    for (let i = 0; i < rows.length; i += WRITE_BATCH) await handle.write(rows.slice(i, i + WRITE_BATCH));
    await handle.commit(`shard-${shard}`);
    sinkMs += performance.now() - started;
    const used = process.cpuUsage(cpu);
    cpuMs += (used.user + used.system) / 1000;
  }
  await handle.close();
  const wallMs = performance.now() - wallStart;
  const size = statSync(join(dir, options.path)).size;
  rmSync(dir, { recursive: true, force: true });
  const rate = Math.round(total / (sinkMs / 1000));
  const cpuRate = Math.round(total / (cpuMs / 1000));
  return [
    `${label}: ${total.toLocaleString("en-US")} rows, commit every ${SHARD.toLocaleString("en-US")}, output ${(size / 1e6).toFixed(0)} MB`,
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
  for (let shard = 0; shard * SHARD < total; shard++) {
    const rows = makeShard(shard, Math.min(SHARD, total - shard * SHARD));
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

function makeShard(shard, count) {
  return Array.from({ length: count }, (_, i) => {
    const id = `rev-${shard}-${i}`;
    const content = `{"sentiment":"positive","confidence":0.${i % 100},"summary":"the customer likes it"}`;
    return {
      id,
      status: "success",
      output: { sentiment: "positive", confidence: (i % 100) / 100, summary: "the customer likes it" },
      response:
        shape === "lean"
          ? { id: `chatcmpl-${id}` }
          : {
              id: `chatcmpl-${id}`,
              object: "chat.completion",
              created: 1764259200,
              model: "gpt-4o-mini-2024-07-18",
              choices: [{ index: 0, message: { role: "assistant", content }, finish_reason: "stop" }],
              usage: { prompt_tokens: 52, completion_tokens: 21, total_tokens: 73 },
            },
      usage: { input_tokens: 52, output_tokens: 21, total_tokens: 73 },
      model: "gpt-4o-mini-2024-07-18",
      batch_id: `batch_${shard}`,
      attempts: 1,
      input: { id, text: "Great product, works as described, would buy again." },
      source: { file: "/data/reviews.jsonl", line: shard * SHARD + i + 1 },
    };
  });
}
