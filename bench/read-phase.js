// `node bench/read-phase.js [N] [--against DIR] [--runs K]` (after `pnpm build`): the read phase alone
// (source-jsonl → prompt transform → shard files, a checkpoint every 10,000 records, as `batchpipe run`
// does) on N bench records (default 1,000,000), in a child process per run. --against DIR measures a
// built checkout of another commit too (a git worktree), alternating with this one, on the same input.
// Prints wall and CPU seconds of runReadPhase, peak RSS, the requests and shards written.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { alternate } from "./lib/alternate.js";
import { chatSpec } from "./lib/spec.js";

const SELF = fileURLToPath(import.meta.url);
const ROOT = path.join(path.dirname(SELF), "..");
const args = process.argv.slice(2);

if (process.argv[1] !== SELF) {
  // imported (bench/collect.js): readShards only
} else if (args[0] === "--measure") {
  console.log(JSON.stringify(await measure(args[1], args[2])));
} else {
  await alternate(SELF, args, {
    root: ROOT,
    defaultN: 1_000_000,
    what: "read phase",
    summary: (m) => `wall ${m("wallS")} s, cpu ${m("cpuS")} s, peak RSS ${m("peakRssMB")} MB`,
  });
}

async function measure(root, input) {
  // timed from the call of runReadPhase (loading the spec and the plugins left out)
  let cpu;
  let started;
  // the timed window on the monotonic clock in µs (the clock of --cpu-prof's samples)
  const window = [];
  const { work, read } = await readShards(root, input, () => {
    cpu = process.cpuUsage();
    started = performance.now();
    window.push(process.hrtime.bigint() / 1000n);
  });
  const wallMs = performance.now() - started;
  const used = process.cpuUsage(cpu);
  window.push(process.hrtime.bigint() / 1000n);
  fs.rmSync(work, { recursive: true, force: true });
  return {
    wallS: +(wallMs / 1000).toFixed(2),
    cpuS: +((used.user + used.system) / 1e6).toFixed(2),
    peakRssMB: Math.round(process.resourceUsage().maxRSS / 1024),
    requests: read.totals.requests,
    shards: read.shards.length,
    timedUs: window.map(Number),
  };
}

/** the read phase of `root`'s checkout on `input` into a new temporary folder (the caller removes it) */
export async function readShards(root, input, onStart = () => {}) {
  const core = await import(path.join(root, "packages/core/dist/index.js"));
  // given as a plugin object: the same source whichever way a checkout resolves built-in names
  const { default: jsonl } = await import(path.join(root, "packages/source-jsonl/dist/index.js"));
  // engine/read/ since the read phase was split; engine/read-phase.js before
  const modern = path.join(root, "packages/core/dist/engine/read/read-phase.js");
  const { runReadPhase } = await import(
    fs.existsSync(modern) ? modern : path.join(root, "packages/core/dist/engine/read-phase.js")
  );
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "bench-read-"));
  const spec = path.join(work, "pipeline.yaml");
  fs.writeFileSync(spec, pipelineYaml(input));
  // providers are plugins since the engine-seams change: the openai one by object, where it exists
  const providerFile = path.join(root, "packages/provider-openai/dist/index.js");
  const provider = fs.existsSync(providerFile) ? { openai: (await import(providerFile)).default } : {};
  // sinks too since they are plugins (the read phase opens none; the spec and its errors sink name one)
  const { default: sink } = await import(path.join(root, "packages/sink-jsonl/dist/index.js"));
  const pipeline = await core.loadPipeline(spec, {
    env: { OPENAI_API_KEY: "sk-bench" },
    plugins: { "bench-source": jsonl, ...provider },
    builtins: { sink: { jsonl: sink } },
  });
  onStart();
  const read = await runReadPhase({
    pipeline,
    stateDir: path.join(work, "state"),
    runId: "bench",
    signal: new AbortController().signal,
    logger: { debug() {}, info() {}, warn() {}, error() {} },
    checkpointEvery: 10_000,
    onCheckpoint() {},
  });
  return { pipeline, work, read };
}

function pipelineYaml(input) {
  return chatSpec({
    name: "bench-read",
    baseUrl: "http://127.0.0.1:9/v1",
    source: `{ use: bench-source, path: "${input}" }`,
    system: "Classify the sentiment of the review.",
    sinks: ["{ use: jsonl, path: ./out/results.jsonl }"],
    errors: false,
  });
}
