// `batchpipe view` over a big run: builds (once, then reuses) a run of N records (default 1,000,000)
// through the emulator at full speed into a jsonl sink, starts the viewer in its own process and
// prints how long the runs page, the first records page and searches take, and the viewer's peak RSS.
// Usage: pnpm build && node bench/view.js [N]
// Targets (issue 15): runs page and first records page under 1 s at 1M records; RSS under 200 MB.
import { spawn } from "node:child_process";
import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { DATA_DIR, ensureInput } from "./lib/data.js";
import { startEmulator } from "./lib/emulator.js";
import { runMeasured } from "./lib/measure.js";
import { chatSpec } from "./lib/spec.js";

const BENCH = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.join(BENCH, "..");
const CLI = path.join(ROOT, "packages/batchpipe/bin/batchpipe.js");
const PRELOAD = path.join(BENCH, "lib/rss-preload.cjs");

const n = Number(process.argv[2] ?? 1_000_000);
const work = path.join(DATA_DIR, `view-${n}`);
const spec = path.join(work, "pipeline.yaml");

await ensureRun();
const results = fs.statSync(path.join(work, "out/results.jsonl")).size;
console.log(`run of ${n.toLocaleString("en-US")} records: results.jsonl ${(results / 1e6).toFixed(0)} MB`);

const rssFile = path.join(work, "viewer-rss.json");
fs.rmSync(rssFile, { force: true });
const viewer = spawn(process.execPath, ["--require", PRELOAD, CLI, "view", spec, "--port", "0"], {
  env: { ...process.env, BENCH_RSS_FILE: rssFile },
  stdio: ["ignore", "pipe", "inherit"],
});
const started = performance.now();
const url = await new Promise((resolve, reject) => {
  let out = "";
  viewer.stdout.setEncoding("utf8").on("data", (d) => {
    out += d;
    const m = /listening on (\S+)/.exec(out);
    if (m) resolve(m[1]);
  });
  viewer.once("exit", (c) => reject(new Error(`the viewer exited with ${c}: ${out}`)));
});
const figures = [["viewer started (CLI loaded, spec loaded, listening)", performance.now() - started]];

try {
  const api = async (route, params = {}) => {
    const t = performance.now();
    const res = await fetch(`${new URL(route, url)}?${new URLSearchParams(params)}`);
    const body = await res.json();
    if (!res.ok) throw new Error(`${route}: ${body.error}`);
    return { body, ms: performance.now() - t };
  };
  const page = async () => {
    const t = performance.now();
    for (const asset of ["/", "/style.css", "/app.js", "/dom.js", "/runs-pages.js", "/records-pages.js"])
      await (await fetch(new URL(asset, url))).text();
    return performance.now() - t;
  };
  // the first load (a cold server), then the median of three more
  const runsPage = async () => {
    const t = performance.now();
    await page();
    const runs = await api("/api/runs");
    return { ms: performance.now() - t, body: runs.body };
  };
  const cold = await runsPage();
  figures.push(["runs page over HTTP (page + scripts + /api/runs), first load", cold.ms]);
  figures.push(["runs page over HTTP, median of 3 more", await median(async () => (await runsPage()).ms)]);
  const run = cold.body.pipelines[0].runs[0].id;
  const key = cold.body.pipelines[0].key;
  const recordsPage = async () => {
    const t = performance.now();
    await page();
    const first = await api("/api/records", { pipeline: key, run });
    return { ms: performance.now() - t, body: first.body };
  };
  const first = await recordsPage();
  figures.push([
    `first records page over HTTP (page + scripts + ${first.body.rows.length} rows), first load`,
    first.ms,
  ]);
  figures.push([
    "first records page over HTTP, median of 3 more",
    await median(async () => (await recordsPage()).ms),
  ]);
  figures.push(["run page data (/api/run)", (await api("/api/run", { pipeline: key, run })).ms]);

  // a search walks the files from cursor to cursor, as the page does
  const search = async (q, untilEnd) => {
    let cursor;
    let rows = 0;
    let requests = 0;
    const t = performance.now();
    do {
      const r = await api("/api/records", { pipeline: key, run, q, ...(cursor ? { cursor } : {}) });
      rows += r.body.rows.length;
      cursor = r.body.next;
      requests++;
    } while (cursor && (untilEnd || rows < 50));
    return { ms: performance.now() - t, rows, requests };
  };
  const common = await search("kettle", false);
  figures.push([`search "kettle", first 50 matches (${common.requests} requests)`, common.ms]);
  const last = `rec-${String(n).padStart(8, "0")}`;
  const rare = await search(last, true);
  figures.push([
    `search "${last}" (the last record) through every record (${rare.requests} requests, ${rare.rows} match)`,
    rare.ms,
  ]);
  const ref = first.body.rows[0].ref;
  figures.push([
    "a record's page data (/api/record)",
    (await api("/api/record", { pipeline: key, run, ref })).ms,
  ]);

  const browser = await browserFigures(url, key, run);
  figures.push(...browser);
} finally {
  const exited = new Promise((r) => viewer.once("exit", r));
  viewer.kill("SIGTERM");
  await exited;
}
const rss = JSON.parse(fs.readFileSync(rssFile, "utf8"));

const load = (await import("node:os")).loadavg()[0].toFixed(1);
console.log(
  `\nbatchpipe view, ${n.toLocaleString("en-US")} records (${new Date().toISOString()}, load average ${load})`,
);
for (const [what, ms] of figures) console.log(`  ${what.padEnd(100)} ${ms.toFixed(0).padStart(7)} ms`);
console.log(`  ${"viewer peak RSS".padEnd(100)} ${(rss.maxRSS / 1024).toFixed(0).padStart(7)} MB`);

/** the same pages in headless Chromium, when it is installed: until their rows are on screen */
async function browserFigures(url, key, run) {
  if (!fs.existsSync("/usr/bin/chromium")) return [];
  const require = createRequire(path.join(ROOT, "packages/view/package.json"));
  const { chromium } = require("playwright-core");
  const browser = await chromium.launch({ executablePath: "/usr/bin/chromium" });
  try {
    const page = await browser.newPage();
    const runsPage = async () => {
      await page.goto("about:blank");
      const t = performance.now();
      await page.goto(url);
      await page.locator(`tr[data-run="${run}"]`).waitFor();
      return performance.now() - t;
    };
    const recordsPage = async () => {
      await page.goto("about:blank");
      const t = performance.now();
      await page.goto(`${url}#/records/${encodeURIComponent(key)}/${run}`);
      await page.locator("table.records tbody tr").nth(49).waitFor();
      return performance.now() - t;
    };
    return [
      ["runs page in Chromium (navigation until the run's row shows), first load", await runsPage()],
      ["runs page in Chromium, median of 3 more", await median(runsPage)],
      ["first records page in Chromium (navigation until 50 rows show), first load", await recordsPage()],
      ["first records page in Chromium, median of 3 more", await median(recordsPage)],
    ];
  } finally {
    await browser.close();
  }
}

async function median(measure) {
  const times = [];
  for (let i = 0; i < 3; i++) times.push(await measure());
  return times.sort((a, b) => a - b)[1];
}

/** the run the viewer shows: made once, reused while its state and results are there */
async function ensureRun() {
  const done = path.join(work, "out/results.jsonl");
  if (fs.existsSync(done) && fs.existsSync(path.join(work, ".batchpipe/bench-view/state.db"))) return;
  fs.rmSync(work, { recursive: true, force: true });
  fs.mkdirSync(work, { recursive: true });
  const input = await ensureInput(n);
  fs.writeFileSync(spec, pipelineYaml(path.relative(work, input)));
  console.log(
    `making a run of ${n.toLocaleString("en-US")} records (once; kept in ${path.relative(ROOT, work)})…`,
  );
  const emulator = await startEmulator();
  try {
    const r = await runMeasured({
      script: CLI,
      args: ["run", spec, "--json"],
      env: { OPENAI_BASE_URL: emulator.url, OPENAI_API_KEY: "bench" },
    });
    if (r.code !== 0) throw new Error(`batchpipe run exited with ${r.code}\n${r.stderr.slice(-3000)}`);
    console.log(`  made in ${(r.wallMs / 1000).toFixed(0)} s`);
  } finally {
    await emulator.close();
  }
}

function pipelineYaml(input) {
  return chatSpec({
    name: "bench-view",
    // biome-ignore lint/suspicious/noTemplateCurlyInString: ${VAR} is the spec syntax
    baseUrl: "${OPENAI_BASE_URL:-http://127.0.0.1:9/v1}",
    source: `{ use: jsonl, path: ${JSON.stringify(input)} }`,
    batch: { poll_interval: "200ms", allow_same_dataset: true },
    sinks: ["{ use: jsonl, path: ./out/results.jsonl }"],
  });
}
