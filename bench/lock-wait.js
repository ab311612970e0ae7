// The run lock's wait, seen from a program's event loop: another process holds the pipeline's lock,
// and this process calls runSpec (the programmatic API) K times, each refused with STATE_FAILED after
// the lock's wait (state/lock.ts WAIT_MS). Printed: each call's wall time and the event loop's longest
// block meanwhile (perf_hooks.monitorEventLoopDelay, 1 ms resolution; a 20 ms pause after each call
// lets it record the block that call made) and, per call, the longest gap between two runs of a 1 ms
// interval (the first call also loads the plugins' modules).
// Usage: pnpm build && node bench/lock-wait.js [K]
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { fileURLToPath, pathToFileURL } from "node:url";

const ROOT = path.join(path.dirname(fileURLToPath(import.meta.url)), "..");
const { runSpec } = await import(pathToFileURL(path.join(ROOT, "packages/batchpipe/dist/index.js")).href);
const STATE = path.join(ROOT, "packages/core/dist/state/index.js");
const calls = Number(process.argv[2] ?? 5);

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-lock-wait-"));
const spec = {
  version: 1,
  name: "lock-wait",
  provider: { use: "emulator", emulator: { timeScale: 3600 } },
  source: { use: "jsonl", path: "./data.jsonl" },
  transform: { body: { model: "gpt-4o-mini", messages: [{ role: "user", content: "{{ text }}" }] } },
  sinks: [{ use: "jsonl", path: "./out/results.jsonl" }],
};
fs.writeFileSync(path.join(dir, "data.jsonl"), '{"id":"a","text":"x"}\n');
const holder = spawn(
  process.execPath,
  [
    "--input-type=module",
    "-e",
    `const { acquireLock } = await import(${JSON.stringify(pathToFileURL(STATE).href)});
await acquireLock(${JSON.stringify(path.join(dir, ".batchpipe", "lock-wait"))});
console.log("held");
setTimeout(() => {}, 600_000);`,
  ],
  { stdio: ["ignore", "pipe", "inherit"] },
);
try {
  await new Promise((resolve, reject) => {
    holder.stdout.on("data", (chunk) => String(chunk).includes("held") && resolve());
    holder.on("exit", (code) => reject(new Error(`the holder exited (${code})`)));
  });
  const delay = monitorEventLoopDelay({ resolution: 1 });
  let ticks = 0;
  let last = performance.now();
  let gap = 0;
  const interval = setInterval(() => {
    const now = performance.now();
    gap = Math.max(gap, now - last);
    last = now;
    ticks++;
  }, 1);
  delay.enable();
  const walls = [];
  const gaps = [];
  for (let i = 0; i < calls; i++) {
    gap = 0;
    const start = performance.now();
    const error = await runSpec(spec, { dir }).then(
      () => undefined,
      (e) => e,
    );
    walls.push(performance.now() - start);
    await new Promise((resolve) => setTimeout(resolve, 20));
    gaps.push(gap);
    if (error?.code !== "STATE_FAILED")
      throw new Error(`expected STATE_FAILED, got ${error?.code ?? "a run"}`);
  }
  delay.disable();
  clearInterval(interval);
  const ms = (ns) => (ns / 1e6).toFixed(1);
  console.log(`runSpec beside a process holding the run lock, ${calls} calls (each refused: STATE_FAILED)`);
  console.log(`  wall per call (ms):          ${walls.map((w) => w.toFixed(0)).join(", ")}`);
  console.log(
    `  event loop, longest block:   ${ms(delay.max)} ms (mean delay ${ms(delay.mean)} ms, p99 ${ms(delay.percentile(99))} ms)`,
  );
  console.log(
    `  1 ms interval: longest gap    ${gaps.map((g) => g.toFixed(1)).join(", ")} ms per call (${ticks} runs)`,
  );
} finally {
  holder.kill("SIGKILL");
  fs.rmSync(dir, { recursive: true, force: true });
}
