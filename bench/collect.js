// `node bench/collect.js [N] [--against DIR] [--runs K]` (after `pnpm build`): the collection path
// alone on N bench records (default 200,000), in a child process per run. Untimed: the read phase
// writes the shards and an output file per shard as the emulator writes it (its responder). Timed:
// engine/collect.ts's collectShard per shard, reading the output file through the openai provider's
// own line reader and parser (the HTTP download left out), joining each result to its meta line and
// building the rows, for a sink that only counts them. --against DIR measures a built checkout of
// another commit too (a git worktree), alternating with this one. Prints CPU µs per row.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { alternate } from "./lib/alternate.js";

const SELF = fileURLToPath(import.meta.url);
const ROOT = path.join(path.dirname(SELF), "..");
const READ_PHASE = pathToFileURL(path.join(path.dirname(SELF), "read-phase.js")).href;
const args = process.argv.slice(2);

if (args[0] === "--measure") {
  console.log(JSON.stringify(await measure(args[1], args[2])));
} else {
  await alternate(SELF, args, {
    root: ROOT,
    defaultN: 200_000,
    what: "collection",
    summary: (m) => `cpu ${m("cpuS")} s (${m("cpuUsPerRow")} µs a row), wall ${m("wallS")} s`,
  });
}

async function measure(root, input) {
  const { readShards } = await import(READ_PHASE);
  const { pipeline, work, read } = await readShards(root, input);
  const stateDir = path.join(work, "state");
  const { collectShard } = await import(path.join(root, "packages/core/dist/engine/collect.js"));
  const { boundedLines } = await import(path.join(root, "packages/provider-openai/dist/lines.js"));
  const { toResultItem } = await import(path.join(root, "packages/provider-openai/dist/connection.js"));
  // this checkout's emulator writes the output files (untimed)
  const emulator = path.join(root, "packages/openai-emulator/dist");
  const { respond } = await import(path.join(emulator, "responder/index.js"));
  const { createIds, createRandom } = await import(path.join(emulator, "random.js"));
  const ids = createIds(createRandom(1));
  const outputs = read.shards.map((shard) => writeOutputs(respond, ids, stateDir, shard));

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
      routedDone: 0,
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

/** the output file of a shard, its lines as the emulator writes them (its responder, its ids) */
function writeOutputs(respond, ids, stateDir, shard) {
  const file = path.join(stateDir, `${shard.name}.output.jsonl`);
  const lines = fs.readFileSync(path.join(stateDir, shard.file), "utf8").split("\n").filter(Boolean);
  const out = lines.map((text, i) => {
    const request = JSON.parse(text);
    const { body } = respond(request.url, request.body, { ids, now: 1764950400 });
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
