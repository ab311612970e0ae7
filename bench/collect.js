// `node bench/collect.js [N] [--against DIR] [--runs K]` (after `pnpm build`): the collection path
// alone on N bench records (default 200,000), in a child process per run. Untimed: the read phase
// writes the shards and an output file per shard as the emulator writes it (its responder). Timed:
// engine/collect.ts's collectShard per shard, reading the output file through the openai provider's
// own line reader and parser (the HTTP download left out), joining each result to its meta line and
// building the rows, for a sink that only counts them. --against DIR measures a built checkout of
// another commit too (a git worktree), alternating with this one. Prints CPU µs per row.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { ensureInput } from "./lib/data.js";

const SELF = fileURLToPath(import.meta.url);
const ROOT = path.join(path.dirname(SELF), "..");
const READ_PHASE = pathToFileURL(path.join(path.dirname(SELF), "read-phase.js")).href;
const args = process.argv.slice(2);

if (args[0] === "--measure") {
  console.log(JSON.stringify(await measure(args[1], args[2])));
} else {
  const flag = (name) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
  const n = Number(args.find((a) => /^\d+$/.test(a)) ?? 200_000);
  const runs = Number(flag("--runs") ?? 1);
  const roots = [ROOT, flag("--against")].filter(Boolean).map((r) => path.resolve(r));
  const input = await ensureInput(n);
  const results = new Map(roots.map((r) => [r, []]));
  for (let i = 0; i < runs; i++) {
    for (const root of roots) {
      const out = execFileSync(process.execPath, [SELF, "--measure", root, input], {
        encoding: "utf8",
        stdio: ["ignore", "pipe", "inherit"],
      });
      const figures = JSON.parse(out.trim().split("\n").pop());
      results.get(root).push(figures);
      console.log(`${root}: ${JSON.stringify(figures)}`);
    }
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
  console.log(`\ncollection, ${n.toLocaleString("en-US")} rows, median of ${runs}`);
  for (const [root, list] of results) {
    console.log(
      `${root}: cpu ${median(list.map((f) => f.cpuS))} s (${median(list.map((f) => f.cpuUsPerRow))} µs a row), wall ${median(list.map((f) => f.wallS))} s`,
    );
  }
  console.log(
    `load average ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(" ")} on ${os.availableParallelism()} cores`,
  );
}

async function measure(root, input) {
  const { readShards } = await import(READ_PHASE);
  const { pipeline, work, read } = await readShards(root, input);
  const stateDir = path.join(work, "state");
  const { collectShard } = await import(path.join(root, "packages/core/dist/engine/collect.js"));
  const { boundedLines } = await import(path.join(root, "packages/provider-openai/dist/lines.js"));
  const { toResultItem } = await import(path.join(root, "packages/provider-openai/dist/connection.js"));
  const outputs = read.shards.map((shard) => writeOutputs(stateDir, shard));

  let rows = 0;
  const sinks = {
    async write() {
      rows++;
    },
  };
  const cpu = process.cpuUsage();
  const started = performance.now();
  // the timed window on the monotonic clock in µs (the clock of --cpu-prof's samples)
  const window = [process.hrtime.bigint() / 1000n];
  for (const [i, shard] of read.shards.entries()) {
    await collectShard({
      provider: { results: () => fileResults(boundedLines, toResultItem, outputs[i]) },
      output: pipeline.provider.plugin.output,
      maxAttempts: 3,
      stateDir,
      shard: { ...shard, batchId: `batch_${i}` },
      batch: { id: `batch_${i}`, status: "completed", state: "ended", ending: "completed", errors: [] },
      fanout: [],
      noRetry: false,
      acceptGone: false,
      sinks,
      signal: new AbortController().signal,
      partSize: 5000,
      partsDone: 0,
      async commitPart() {},
    });
  }
  const wallMs = performance.now() - started;
  const used = process.cpuUsage(cpu);
  window.push(process.hrtime.bigint() / 1000n);
  fs.rmSync(work, { recursive: true, force: true });
  if (rows !== read.totals.requests) throw new Error(`${rows} rows for ${read.totals.requests} requests`);
  const cpuS = (used.user + used.system) / 1e6;
  return {
    wallS: +(wallMs / 1000).toFixed(2),
    cpuS: +cpuS.toFixed(2),
    cpuUsPerRow: +((cpuS * 1e6) / rows).toFixed(2),
    rows,
    peakRssMB: Math.round(process.resourceUsage().maxRSS / 1024),
    timedUs: window.map(Number),
  };
}

/** the provider's result items of an output file, read as its connection reads a download */
async function* fileResults(boundedLines, toResultItem, file) {
  let n = 0;
  for await (const line of boundedLines(fs.createReadStream(file), 128 * 1024 * 1024)) {
    n++;
    if ("text" in line && line.text.trim() !== "") yield toResultItem(line.text, `line ${n} of ${file}`);
  }
}

/** the output file of a shard, lines shaped as the emulator's (its responder's chat completion) */
function writeOutputs(stateDir, shard) {
  const file = path.join(stateDir, `${shard.name}.output.jsonl`);
  const lines = fs.readFileSync(path.join(stateDir, shard.file), "utf8").split("\n").filter(Boolean);
  const out = lines.map((text, i) => {
    const request = JSON.parse(text);
    const content = `{"sentiment":"positive","note":"${i}"}`;
    const input = 60;
    const output = 12;
    const body = {
      id: `chatcmpl-${String(i).padStart(24, "0")}`,
      object: "chat.completion",
      created: 1764950400,
      model: request.body.model,
      choices: [
        {
          index: 0,
          message: { role: "assistant", content, refusal: null, annotations: [] },
          logprobs: null,
          finish_reason: "stop",
        },
      ],
      usage: {
        prompt_tokens: input,
        completion_tokens: output,
        total_tokens: input + output,
        prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
        completion_tokens_details: {
          reasoning_tokens: 0,
          audio_tokens: 0,
          accepted_prediction_tokens: 0,
          rejected_prediction_tokens: 0,
        },
      },
      service_tier: "default",
      system_fingerprint: "fp_emulator",
    };
    return JSON.stringify({
      id: `batch_req_${i}`,
      custom_id: request.custom_id,
      response: { status_code: 200, request_id: `req_${i}`, body },
      error: null,
    });
  });
  fs.writeFileSync(file, `${out.join("\n")}\n`);
  return file;
}
