// `node bench/memory-timeline.js [N] [--jsonl-only]` (after `pnpm build`): the memory of one
// `batchpipe run` over time, lined up with its events. The run is bench/e2e-compare.js's (N chat
// records, the emulator in its own process, jsonl + sqlite sinks with the default rows, or the
// jsonl sink only with the baseline's fields); a preload (lib/memory-preload.cjs) samples
// process.memoryUsage() and V8's heap spaces every 200 ms. Prints the samples every ~2 s and the
// peak, with peak RSS and CPU seconds from getrusage. BENCH_MEM_SNAPSHOT_MB=300 also writes a
// heap snapshot when RSS first passes 300 MB (into the printed folder; it stops the run a while).
// BENCH_NODE_ARGS="--trace-gc" passes node options to the run, BENCH_OTHER_OUT=file keeps what it
// prints besides its events.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { ensureInput } from "./lib/data.js";
import { INSTANT, startEmulator } from "./lib/emulator.js";
import { runMeasured } from "./lib/measure.js";
import { chatSpec } from "./lib/spec.js";

const BENCH = path.dirname(fileURLToPath(import.meta.url));
const CLI = path.join(BENCH, "..", "packages/batchpipe/bin/batchpipe.js");
const args = process.argv.slice(2);
const n = Number(args.find((a) => /^\d+$/.test(a)) ?? 1_000_000);
const sqlite = !args.includes("--jsonl-only");

// BENCH_NODE_ARGS="--trace-gc": more node options for the run; what they print goes to BENCH_OTHER_OUT
const nodeArgs = (process.env.BENCH_NODE_ARGS ?? "").split(" ").filter(Boolean);
const otherOut = process.env.BENCH_OTHER_OUT;
const input = await ensureInput(n);
const work = fs.mkdtempSync(path.join(os.tmpdir(), "bench-memory-"));
const memFile = path.join(work, "memory.jsonl");
const spec = path.join(work, "pipeline.yaml");
const emulator = await startEmulator(INSTANT);
/** [time, what] of the run's events that mark its phases */
const events = [];
let submitted = 0;
let collected = 0;
let result;
try {
  fs.writeFileSync(
    spec,
    chatSpec({
      name: "bench-memory",
      baseUrl: emulator.url,
      source: `{ use: jsonl, path: ${JSON.stringify(input)} }`,
      temperature: 0,
      batch: { poll_interval: "200ms" },
      sinks: sqlite
        ? [
            "{ use: jsonl, path: ./out/results.jsonl }",
            "{ use: sqlite, path: ./out/results.db, table: results }",
          ]
        : ["{ use: jsonl, path: ./out/results.jsonl, fields: [id, output, usage] }"],
    }),
  );
  result = await runMeasured({
    script: CLI,
    args: ["run", spec, "--json"],
    cwd: work,
    env: { OPENAI_API_KEY: "sk-bench", NO_COLOR: "1", BENCH_MEM_FILE: memFile },
    nodeArgs: [...nodeArgs, "--require", path.join(BENCH, "lib/memory-preload.cjs")],
    onLine(line) {
      if (otherOut && !line.startsWith("{")) fs.appendFileSync(otherOut, `${line}\n`);
      const type = /^\{"type":"([a-z_]+)"/.exec(line)?.[1];
      if (type === "shard_submitted") events.push([Date.now(), `submitted ${++submitted}`]);
      else if (type === "shard_collected") events.push([Date.now(), `collected ${++collected}`]);
      else if (type === "planned" || type === "run_started" || type === "run_finished")
        events.push([Date.now(), type]);
    },
  });
  if (result.code !== 0)
    throw new Error(`batchpipe run exited ${result.code}: ${result.stderr.slice(-2000)}`);
} finally {
  await emulator.close();
}

const lines = fs
  .readFileSync(memFile, "utf8")
  .trim()
  .split("\n")
  .map((l) => JSON.parse(l));
const samples = lines.filter((l) => l.rss !== undefined);
// worker threads' own heaps (the result cache's writer), by thread: the latest at a main sample
const workerLines = lines.filter((l) => l.thread !== undefined);
const workersAt = (at) => {
  const latest = new Map();
  for (const w of workerLines) if (w.at <= at && at - w.at < 1000) latest.set(w.thread, w);
  let heapTotal = 0;
  let external = 0;
  for (const w of latest.values()) {
    heapTotal += w.heapTotal;
    external += w.external;
  }
  return { heapTotal, external };
};
const smaps = lines.filter((l) => l.smaps);
const t0 = samples[0].at;
const sec = (at) => ((at - t0) / 1000).toFixed(1).padStart(6);
const phaseAt = (at) => {
  const before = events.filter(([t]) => t <= at);
  const read = before.some(([, w]) => w === "planned") ? "read done" : "reading";
  return `${read}, ${before.filter(([, w]) => w.startsWith("submitted")).length} submitted, ${before.filter(([, w]) => w.startsWith("collected")).length} collected`;
};
const row = (s) => {
  const w = workersAt(s.at);
  const other = s.rss - s.heapTotal - s.external - w.heapTotal - w.external;
  return `${sec(s.at)}  ${String(s.rss).padStart(4)}  ${String(s.heapTotal).padStart(5)}  ${String(s.heapUsed).padStart(5)}  ${String(s.spaces.new ?? 0).padStart(4)}  ${String(s.spaces.old ?? 0).padStart(4)}  ${String(s.spaces.large_object ?? 0).padStart(4)}  ${String(s.external).padStart(4)}  ${String(s.arrayBuffers).padStart(4)}  ${String(w.heapTotal).padStart(5)}  ${String(w.external).padStart(4)}  ${String(other).padStart(5)}  ${String(s.file ?? "").padStart(4)}  ${phaseAt(s.at)}`;
};
console.log(
  `N=${n.toLocaleString("en-US")}, ${sqlite ? "jsonl + sqlite sinks" : "jsonl sink only"}; MB; heapT…ab: the main thread's isolate; wHeap, wExt: the worker threads' (the cache writer); other = rss - both heaps - both externals (file-backed pages, stacks, native heaps: SQLite, zlib, freed malloc memory not given back); file = RSS of mapped files`,
);
console.log("     s   rss  heapT  heapU   new   old  large  ext   ab  wHeap  wExt  other  file  phase");
let last = -Infinity;
for (const s of samples) {
  if (s.at - last >= 2000) {
    console.log(row(s));
    last = s.at;
  }
}
const peak = samples.reduce((a, b) => (b.rss > a.rss ? b : a));
const readEnd = events.find(([, w]) => w === "planned")?.[0];
console.log(`\npeak sample:\n${row(peak)}`);
const peakMaps = smaps.filter((l) => l.at <= peak.at).at(-1)?.smaps;
if (peakMaps)
  console.log(
    `anonymous RSS by mapping at the last peak before it: brk heap ${peakMaps.brk} MB, mappings of 64 MB+ ${peakMaps["64mb+"]} MB, 1-64 MB ${peakMaps["1-64mb"]} MB, < 1 MB ${peakMaps["<1mb"]} MB; biggest: ${peakMaps.top.join(", ")}`,
  );
if (readEnd) {
  const readPeak = samples.filter((s) => s.at <= readEnd).reduce((a, b) => (b.rss > a.rss ? b : a));
  const afterPeak = samples
    .filter((s) => s.at > readEnd)
    .reduce((a, b) => (b.rss > a.rss ? b : a), { rss: 0 });
  console.log(
    `read ended at ${sec(readEnd).trim()} s; RSS peak while reading ${readPeak.rss} MB, after ${afterPeak.rss} MB`,
  );
}
console.log(
  `peak RSS (getrusage) ${Math.round(result.peakRssMB)} MB · CPU ${(result.cpuMs / 1000).toFixed(1)} s · wall ${(result.wallMs / 1000).toFixed(1)} s · load ${os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(" ")}`,
);
if (process.env.BENCH_MEM_SNAPSHOT_MB || process.env.BENCH_MEM_SNAPSHOT_AB_MB)
  console.log(`heap snapshots in ${work}`);
else fs.rmSync(work, { recursive: true, force: true });
