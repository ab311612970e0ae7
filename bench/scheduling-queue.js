// Scheduling under the provider's enqueued-token queue: the emulator's queue holds 4 shards' worth
// of tokens and every batch takes a fixed time; 40 shards. The best any scheduler can do is
// ceil(40/4) waves × the batch latency. Measured with and without batch.max_enqueued_tokens.
// Usage: pnpm build && node bench/scheduling-queue.js
import fs from "node:fs";
import path from "node:path";
import readline from "node:readline";
import { fileURLToPath } from "node:url";
import { DATA_DIR, ensureInput } from "./lib/data.js";
import { startEmulator } from "./lib/emulator.js";
import { runMeasured } from "./lib/measure.js";
import { chatSpec } from "./lib/spec.js";

const BENCH = path.dirname(fileURLToPath(import.meta.url));
const CLI = path.join(BENCH, "..", "packages/batchpipe/bin/batchpipe.js");
const { estimateRequestTokens } = await import("../packages/openai-emulator/dist/index.js");

export const SHARDS = 40;
export const PER_SHARD = 100;
export const SLOTS = 4;
export const LATENCY_S = 3;
const POLL = "100ms";
const SYSTEM = "Classify the sentiment of the product review.";

/** @returns {Promise<{ ideal: number, limit: number, withBudget: Sched, withoutBudget: Sched }>} */
export async function runScheduling({ log = () => {} } = {}) {
  const n = SHARDS * PER_SHARD;
  const input = await ensureInput(n);
  // the emulator's own estimate of each shard; the queue holds 4 of the largest (never 5 of the smallest)
  const shardTokens = await emulatorShardTokens(input);
  const limit = SLOTS * Math.max(...shardTokens);
  if (SLOTS + 1 <= limit / Math.min(...shardTokens)) throw new Error("shards too uneven for a 4-slot queue");
  const ideal = Math.ceil(SHARDS / SLOTS) * LATENCY_S * 1000;
  log(`  scheduling with max_enqueued_tokens = ${limit}…`);
  const withBudget = await runOnce({ input, limit, budget: limit });
  log("  scheduling without max_enqueued_tokens…");
  const withoutBudget = await runOnce({ input, limit, budget: null });
  return { ideal, limit, shardTokens: shardTokens[0], withBudget, withoutBudget };
}

async function runOnce({ input, limit, budget }) {
  const emulator = await startEmulator({
    timeScale: 1,
    queueLimits: { "gpt-4o-mini": limit },
    latencies: { validation: 0, finalizing: 0, linesPerSecond: PER_SHARD / LATENCY_S },
  });
  const work = path.join(DATA_DIR, `sched-${budget === null ? "learn" : "budget"}`);
  fs.rmSync(work, { recursive: true, force: true });
  fs.mkdirSync(work, { recursive: true });
  const spec = path.join(work, "pipeline.yaml");
  fs.writeFileSync(spec, pipelineYaml(path.relative(work, input), budget));
  try {
    let plannedAt;
    let finishedAt;
    let planned;
    let maxOpen = 0;
    let open = 0;
    const r = await runMeasured({
      script: CLI,
      args: ["run", spec, "--json"],
      env: { OPENAI_BASE_URL: emulator.url, OPENAI_API_KEY: "bench" },
      onLine(line, at) {
        if (!line.startsWith("{")) return;
        const e = JSON.parse(line);
        if (e.type === "planned") {
          plannedAt = at;
          planned = e;
        }
        if (e.type === "shard_submitted") maxOpen = Math.max(maxOpen, ++open);
        if (e.type === "shard_collected" || e.type === "queue_full") open--;
        // the last delivery ends the schedule (clean-up deletes files afterwards)
        if (e.type === "shard_collected") finishedAt = at;
      },
    });
    if (r.code !== 0) throw new Error(`batchpipe run exited with ${r.code}\n${r.stderr.slice(-3000)}`);
    const state = await emulator.state();
    return {
      makespanMs: finishedAt - plannedAt,
      wallMs: r.wallMs,
      shards: planned.shards.length,
      batchpipeShardTokens: planned.shards[0]?.tokens,
      tokenLimitExceeded: state.counters.token_limit_exceeded,
      batchesCreated: state.counters.batches_created,
      maxOpen,
    };
  } finally {
    await emulator.close();
    fs.rmSync(work, { recursive: true, force: true });
  }
}

function pipelineYaml(input, budget) {
  return chatSpec({
    name: "bench-scheduling",
    // biome-ignore lint/suspicious/noTemplateCurlyInString: ${VAR} is the spec syntax
    baseUrl: "${OPENAI_BASE_URL}",
    source: `{ use: jsonl, path: ${JSON.stringify(input)} }`,
    temperature: 0,
    system: SYSTEM,
    batch: {
      max_requests: PER_SHARD,
      max_enqueued_tokens: budget,
      poll_interval: POLL,
      allow_same_dataset: true,
    },
    sinks: ["{ use: jsonl, path: ./out/results.jsonl }"],
    errors: false,
  });
}

async function emulatorShardTokens(input) {
  const totals = [];
  let i = 0;
  for await (const line of readline.createInterface({ input: fs.createReadStream(input) })) {
    if (line === "") continue;
    const record = JSON.parse(line);
    const body = {
      model: "gpt-4o-mini",
      messages: [
        { role: "system", content: SYSTEM },
        { role: "user", content: record.text },
      ],
    };
    const shard = Math.floor(i++ / PER_SHARD);
    totals[shard] = (totals[shard] ?? 0) + estimateRequestTokens("/v1/chat/completions", body);
  }
  return totals;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  console.log(JSON.stringify(await runScheduling({ log: console.log }), null, 2));
}
