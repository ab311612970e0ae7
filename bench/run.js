// `pnpm bench` (= pnpm build && node bench/run.js): the end-to-end and scheduling benchmarks;
// writes bench/RESULTS.md. Small by default (N=20,000); BENCH_N=1000000 runs N=100,000 and BENCH_N.
// Flags: --all also runs the other bench scripts; --no-sched skips scheduling; --no-e2e skips end to
// end; --profile writes CPU profiles of the batchpipe CLI to bench/.data/profiles. BENCH_ROUNDS=3
// runs each size's end-to-end runs three times, one round after the other, and reports each
// figure's median (a single run's ratios move by 0.1–0.2x with the machine's load).
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { runE2E } from "./e2e-compare.js";
import { DATA_DIR } from "./lib/data.js";
import { describeMachine } from "./lib/machine.js";
import { median } from "./lib/measure.js";
import { renderResults } from "./lib/report.js";
import { runScheduling } from "./scheduling-queue.js";

const BENCH = path.dirname(fileURLToPath(import.meta.url));
const flags = new Set(process.argv.slice(2));
const started = performance.now();
const envN = process.env.BENCH_N ? Number(process.env.BENCH_N) : undefined;
if (envN !== undefined && !(Number.isInteger(envN) && envN > 0))
  throw new Error(`BENCH_N must be a positive integer, got ${process.env.BENCH_N}`);
const sizes = envN === undefined ? [20_000] : [...new Set([100_000, envN])].sort((a, b) => a - b);
const rounds = Number(process.env.BENCH_ROUNDS ?? 1);
if (!(Number.isInteger(rounds) && rounds > 0))
  throw new Error(`BENCH_ROUNDS must be a positive integer, got ${process.env.BENCH_ROUNDS}`);

const machine = describeMachine();
const load = os.loadavg();
console.log(
  `batchpipe bench: N = ${sizes.join(", ")} on ${machine.cpu} (${machine.cores} cores), Node ${machine.node}`,
);

const saved = path.join(DATA_DIR, "results.json");
if (flags.has("--render")) {
  // re-render RESULTS.md from the last run's figures (after editing lib/analysis.md)
  writeResults(JSON.parse(fs.readFileSync(saved, "utf8")));
  process.exit(0);
}
const results = { machine, load, sizes: [], command: commandLine(), notes: [] };
if (!flags.has("--no-e2e")) {
  for (const n of sizes) {
    console.log(`end to end, N=${n.toLocaleString("en-US")}`);
    const profileDir = flags.has("--profile") ? path.join(DATA_DIR, "profiles", String(n)) : undefined;
    const each = [];
    for (let round = 1; round <= rounds; round++) {
      if (rounds > 1) console.log(`  round ${round} of ${rounds}`);
      each.push(await runE2E(n, { log: console.log, profileDir }));
    }
    const s = medianRound(each);
    results.sizes.push(s);
    console.log(
      `  batchpipe ${sec(s.batchpipe.wallMs)} s, ${Math.round(s.batchpipe.peakRssMB)} MB | baseline ${sec(s.baseline.wallMs)} s, ${Math.round(s.baseline.peakRssMB)} MB | floor ${sec(s.floor.wallMs)} s, ${Math.round(s.floor.peakRssMB)} MB`,
    );
  }
}
if (!flags.has("--no-sched")) {
  console.log("scheduling under the queue (40 shards, 4 slots)");
  results.sched = await runScheduling({ log: console.log });
  const { withBudget: w, withoutBudget: wo, ideal } = results.sched;
  console.log(
    `  with budget ${sec(w.makespanMs)} s (${(w.makespanMs / ideal).toFixed(2)}x ideal), ${w.tokenLimitExceeded} refusals | without ${sec(wo.makespanMs)} s (${(wo.makespanMs / ideal).toFixed(2)}x), ${wo.tokenLimitExceeded} refusals`,
  );
}
if (flags.has("--all")) results.others = runOthers();

results.durationMs = performance.now() - started;
results.loadEnd = os.loadavg();
fs.mkdirSync(DATA_DIR, { recursive: true });
fs.writeFileSync(saved, JSON.stringify(results, null, 2));
writeResults(results);
console.log(`wrote bench/RESULTS.md (${sec(results.durationMs)} s)`);

function writeResults(figures) {
  // hand-written analysis of the last full run (hot spots, what limits each missed target)
  const analysis = path.join(BENCH, "lib", "analysis.md");
  const notes = fs.existsSync(analysis) ? [fs.readFileSync(analysis, "utf8").trim()] : [];
  const { markdown, targets } = renderResults({ ...figures, notes });
  const file = path.join(BENCH, "RESULTS.md");
  fs.writeFileSync(file, markdown);
  // pad the tables as Biome formats Markdown, so `biome ci .` passes on the committed file
  const biome = path.join(BENCH, "..", "node_modules", ".bin", "biome");
  if (fs.existsSync(biome)) spawnSync(biome, ["format", "--write", file], { stdio: "ignore" });
  console.log("\ntargets:");
  for (const t of targets)
    console.log(`  ${t.met === null ? "n/a   " : t.met ? "met   " : "MISSED"} ${t.name}: ${t.value}`);
}

function runOthers() {
  const mine = /^(run|e2e-|baseline-|floor-|scheduling-)/;
  const others = fs
    .readdirSync(BENCH)
    .filter((f) => f.endsWith(".js") && !mine.test(f))
    .sort();
  return others.map((script) => {
    console.log(`running bench/${script}`);
    const r = spawnSync(process.execPath, [path.join(BENCH, script)], {
      encoding: "utf8",
      maxBuffer: 64 << 20,
    });
    const output = `${r.stdout ?? ""}${r.status === 0 ? "" : `\n(exit ${r.status})\n${(r.stderr ?? "").slice(-2000)}`}`;
    console.log(output.trim());
    return { script, output };
  });
}

/**
 * One size's figures from its rounds: each figure's median (wall, CPU, RSS, first batch, each on
 * its own), the rounds themselves kept beside them for the report
 */
function medianRound(each) {
  if (each.length === 1) return each[0];
  const s = { ...each[0], rounds: each };
  for (const run of ["batchpipe", "jsonlOnly", "jsonlNoCache", "baseline", "floor"]) {
    if (!each[0][run]) continue;
    const figure = { ...each[0][run] };
    for (const key of [
      "wallMs",
      "cpuMs",
      "emulatorCpuMs",
      "mainRunMs",
      "mainWaitMs",
      "peakRssMB",
      "firstBatchMs",
    ])
      if (key in figure) figure[key] = median(each.map((r) => r[run][key]));
    figure.recordsPerSec = s.n / (figure.wallMs / 1000);
    s[run] = figure;
  }
  return s;
}

function commandLine() {
  const args = process.argv.slice(2).join(" ");
  const env = [envN === undefined ? "" : `BENCH_N=${envN} `, rounds > 1 ? `BENCH_ROUNDS=${rounds} ` : ""];
  return `${env.join("")}pnpm bench${args ? ` ${args}` : ""}`;
}

function sec(ms) {
  return (ms / 1000).toFixed(2);
}
