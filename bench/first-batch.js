// Streaming submission: the time from the start of `batchpipe run` (the CLI's process spawned) to
// its first batch created (the `shard_submitted` event), N chat records from JSONL against the
// emulator in its own process; with the default limits the first shard holds 6,250 requests (then
// 12,500 each: shard-writer.ts), so the first is sealed after 6,250 records.
// The run is stopped (SIGKILL) once that event has arrived. Also
// printed: the CLI's CPU time by then (what the wall time would be on an idle machine, roughly).
// Usage: pnpm build && node bench/first-batch.js [N]
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { ensureInput } from "./lib/data.js";
import { startEmulator } from "./lib/emulator.js";
import { processCpuMs } from "./lib/measure.js";
import { chatSpec } from "./lib/spec.js";

const BENCH = path.dirname(fileURLToPath(import.meta.url));
const CLI = path.join(BENCH, "..", "packages/batchpipe/bin/batchpipe.js");

export async function firstBatch(n) {
  const input = await ensureInput(n);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "bench-first-batch-"));
  const spec = path.join(work, "pipeline.yaml");
  fs.writeFileSync(
    spec,
    chatSpec({
      name: "bench-first-batch",
      // biome-ignore lint/suspicious/noTemplateCurlyInString: ${VAR} is the spec syntax
      baseUrl: "${OPENAI_BASE_URL}",
      source: `{ use: jsonl, path: ${JSON.stringify(input)} }`,
      batch: { poll_interval: "200ms" },
      sinks: ["{ use: jsonl, path: ./out/results.jsonl }"],
      errors: false,
    }),
  );
  const emulator = await startEmulator();
  try {
    const started = performance.now();
    const child = spawn(process.execPath, [CLI, "run", spec, "--json"], {
      cwd: work,
      env: { ...process.env, OPENAI_BASE_URL: emulator.url, OPENAI_API_KEY: "bench" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const at = {};
    let rest = "";
    let stderr = "";
    child.stderr.setEncoding("utf8").on("data", (d) => {
      stderr += d;
    });
    await new Promise((resolve, reject) => {
      child.stdout.setEncoding("utf8").on("data", (d) => {
        const lines = (rest + d).split("\n");
        rest = lines.pop();
        for (const line of lines) {
          const event = JSON.parse(line);
          const ms = Math.round(performance.now() - started);
          // the CLI's CPU so far beside each time: on a shared machine it tells what the wall time
          // would be unloaded
          if (event.type === "run_started" && at.runStarted === undefined) {
            at.runStarted = ms;
            at.cpuMsToRunStarted = processCpuMs(child.pid);
          }
          if (event.type === "read_progress" && event.records >= 50_000 && at.read50k === undefined) {
            at.read50k = ms;
            at.cpuMsToRead50k = processCpuMs(child.pid);
          }
          if (event.type === "shard_submitted" && at.firstBatch === undefined) {
            at.firstBatch = ms;
            at.cpuMsToFirstBatch = processCpuMs(child.pid);
            child.kill("SIGKILL");
          }
        }
      });
      child.once("exit", (code) =>
        at.firstBatch === undefined ? reject(new Error(`exited ${code} first\n${stderr}`)) : resolve(),
      );
    });
    return { n, ...at };
  } finally {
    await emulator.close();
    fs.rmSync(work, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const n = Number(process.argv[2] ?? 1_000_000);
  console.log(JSON.stringify(await firstBatch(n)));
}
