// End to end: N chat records from JSONL through the prompt transform to the emulator (own process,
// instant completion) and back into the jsonl and sqlite sinks, through the real CLI; beside it the
// hand-written openai-SDK baseline and the streams floor, measured in the same run. Each batchpipe
// run starts with an empty state folder (so an empty result cache).
// Usage: pnpm build && node bench/e2e-compare.js [N]
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { DATA_DIR, ensureInput } from "./lib/data.js";
import { startEmulator } from "./lib/emulator.js";
import { runMeasured } from "./lib/measure.js";
import { chatSpec } from "./lib/spec.js";

const BENCH = path.dirname(fileURLToPath(import.meta.url));
const CLI = path.join(BENCH, "..", "packages/batchpipe/bin/batchpipe.js");
export const POLL_MS = 200;

/** @returns {Promise<{ n: number, batchpipe: Figure, jsonlOnly?: Figure, jsonlNoCache?: Figure, baseline: Figure, floor: Figure }>} */
export async function runE2E(n, { log = () => {}, profileDir, withJsonlOnly = true } = {}) {
  const input = await ensureInput(n);
  const work = path.join(DATA_DIR, `e2e-${n}`);
  fs.rmSync(work, { recursive: true, force: true });
  fs.mkdirSync(work, { recursive: true });

  log(`  baseline (openai SDK script), N=${n.toLocaleString("en-US")}…`);
  const baseline = await withEmulator(async (url) => {
    const r = await runMeasured({
      script: path.join(BENCH, "baseline-openai-script.js"),
      args: [input, path.join(work, "baseline"), String(POLL_MS)],
      env: { OPENAI_BASE_URL: url, OPENAI_API_KEY: "bench" },
    });
    check(r, "baseline");
    const summary = JSON.parse(r.stdout.trim().split("\n").at(-1));
    if (summary.written !== n) throw new Error(`baseline wrote ${summary.written} results, expected ${n}`);
    return figure(n, r, fs.statSync(path.join(work, "baseline", "results.jsonl")).size);
  });
  fs.rmSync(path.join(work, "baseline"), { recursive: true, force: true });

  log(`  batchpipe run (jsonl + sqlite sinks), N=${n.toLocaleString("en-US")}…`);
  const batchpipe = await runBatchpipe({ n, input, work, sqlite: true, profileDir });
  let jsonlOnly;
  let jsonlNoCache;
  if (withJsonlOnly) {
    log(`  batchpipe run (jsonl sink only, like the baseline), N=${n.toLocaleString("en-US")}…`);
    jsonlOnly = await runBatchpipe({ n, input, work, sqlite: false });
    // what storing the results in the result cache costs: the same run keeping no cache
    log(`  batchpipe run (jsonl sink only, no result cache), N=${n.toLocaleString("en-US")}…`);
    jsonlNoCache = await runBatchpipe({ n, input, work, sqlite: false, cache: false });
  }

  log(`  floor (streams + JSON only), N=${n.toLocaleString("en-US")}…`);
  const floorOut = path.join(work, "floor.jsonl");
  const fr = await runMeasured({
    script: path.join(BENCH, "floor-streams.js"),
    args: [input, floorOut, String(batchpipe.resultBytes), String(n)],
  });
  check(fr, "floor");
  const floor = figure(n, fr, fs.statSync(floorOut).size);
  fs.rmSync(work, { recursive: true, force: true });
  return { n, batchpipe, jsonlOnly, jsonlNoCache, baseline, floor };
}

/** `batchpipe run` in a child process against its own emulator; checks every record succeeded */
async function runBatchpipe({ n, input, work, sqlite, cache = true, profileDir }) {
  const spec = path.join(work, "pipeline.yaml");
  fs.writeFileSync(spec, pipelineYaml(path.relative(work, input), sqlite, cache));
  try {
    return await withEmulator(async (url) => {
      let firstBatchMs = null;
      const r = await runMeasured({
        script: CLI,
        args: ["run", spec, "--json"],
        env: { OPENAI_BASE_URL: url, OPENAI_API_KEY: "bench" },
        nodeArgs: profileDir ? ["--cpu-prof", "--cpu-prof-dir", profileDir] : [],
        // from the start of the process to the first batch created at the provider
        onLine: (line, atMs) => {
          if (firstBatchMs === null && line.includes('"shard_submitted"')) firstBatchMs = atMs;
        },
      });
      check(r, "batchpipe run");
      const finished = r.stdout
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l))
        .find((e) => e.type === "run_finished");
      if (finished?.report?.succeeded !== n)
        throw new Error(`batchpipe delivered ${finished?.report?.succeeded} successes, expected ${n}`);
      return {
        ...figure(n, r, fs.statSync(path.join(work, "out", "results.jsonl")).size),
        batches: finished.report.batches,
        firstBatchMs,
        identical: finished.report.identical,
        sqliteBytes: sqlite ? fs.statSync(path.join(work, "out", "results.db")).size : undefined,
      };
    });
  } finally {
    fs.rmSync(path.join(work, "out"), { recursive: true, force: true });
    fs.rmSync(path.join(work, ".batchpipe"), { recursive: true, force: true });
  }
}

// the jsonl-only run keeps the fields the baseline writes; the other run keeps the default rows
const SAME_FIELDS_AS_BASELINE = "fields: [id, output, usage]";

/** `cache: false`: `batch.cache_max_size: 0`, no result cache kept (nothing stored, nothing looked up) */
function pipelineYaml(input, sqlite, cache) {
  return chatSpec({
    name: "bench-e2e",
    // biome-ignore lint/suspicious/noTemplateCurlyInString: ${VAR} is the spec syntax
    baseUrl: "${OPENAI_BASE_URL}",
    source: `{ use: jsonl, path: ${JSON.stringify(input)} }`,
    temperature: 0,
    batch: { poll_interval: `${POLL_MS}ms`, ...(cache ? {} : { cache_max_size: 0 }) },
    sinks: sqlite
      ? [
          "{ use: jsonl, path: ./out/results.jsonl }",
          "{ use: sqlite, path: ./out/results.db, table: results }",
        ]
      : [`{ use: jsonl, path: ./out/results.jsonl, ${SAME_FIELDS_AS_BASELINE} }`],
  });
}

/** fn(url) against a fresh emulator; its figure gets the emulator's CPU time during fn */
async function withEmulator(fn) {
  const emulator = await startEmulator();
  try {
    const before = emulator.cpuMs();
    const figure = await fn(emulator.url);
    const after = emulator.cpuMs();
    return { ...figure, emulatorCpuMs: before === null || after === null ? null : after - before };
  } finally {
    await emulator.close();
  }
}

function figure(n, r, resultBytes) {
  return {
    wallMs: r.wallMs,
    cpuMs: r.cpuMs,
    mainRunMs: r.mainRunMs,
    mainWaitMs: r.mainWaitMs,
    recordsPerSec: n / (r.wallMs / 1000),
    peakRssMB: r.peakRssMB,
    resultBytes,
  };
}

function check(r, what) {
  if (r.code !== 0)
    throw new Error(`${what} exited with ${r.code}\n${r.stderr.slice(-3000)}\n${r.stdout.slice(-2000)}`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const n = Number(process.argv[2] ?? 20_000);
  const result = await runE2E(n, { log: console.log });
  console.log(JSON.stringify(result, null, 2));
}
