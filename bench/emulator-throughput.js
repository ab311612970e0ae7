// `node bench/emulator-throughput.js` (after pnpm build): figures for @batchpipe/openai-emulator.
//  1. a 50,000-line chat batch at the default time scale (upload + create + completed, wall time);
//  2. the same with pacing off (linesPerSecond 1e9): the emulator's raw per-line execution speed;
//  3. an upload and a poll beside a running 50,000-line batch (pacing off), against the same upload
//     with the emulator idle: the API must not wait for the batches it runs;
//  4. a 150 MB input through the bin in a child process: upload MB/s, run time, the child's peak RSS.
// BENCH_EMU_MB=300 changes the size of (4).
import { spawn } from "node:child_process";
import { once } from "node:events";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import OpenAI from "openai";
import { createEmulator } from "../packages/openai-emulator/dist/index.js";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const BIN = path.join(HERE, "../packages/openai-emulator/bin/batchpipe-emulator.js");
const MB = 1024 * 1024;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-emu-"));

try {
  for (const [label, options] of [
    ["default pacing (20,000 lines/s)", {}],
    ["no pacing", { latencies: { linesPerSecond: 1e9, validation: 0, finalizing: 0 } }],
  ]) {
    const emu = await createEmulator(options);
    const client = new OpenAI({ baseURL: emu.url, apiKey: "bench", maxRetries: 0 });
    const file = path.join(dir, "50k.jsonl");
    await writeLines(file, 50_000, (i) => `Classify the sentiment of review ${i}: it was fine.`);
    const t0 = performance.now();
    const batch = await runBatch(client, file);
    const s = (performance.now() - t0) / 1000;
    console.log(
      `50,000-line batch, ${label}: ${s.toFixed(2)} s wall (${Math.round(50_000 / s).toLocaleString("en-US")} lines/s), status ${batch.status}`,
    );
    await emu.close();
  }

  {
    const emu = await createEmulator({ latencies: { linesPerSecond: 1e9, validation: 0, finalizing: 0 } });
    const client = new OpenAI({ baseURL: emu.url, apiKey: "bench", maxRetries: 0 });
    // the 50,000-line input (1) and (2) wrote
    const file = path.join(dir, "50k.jsonl");
    const upload = async () => {
      const t0 = performance.now();
      const f = await client.files.create({ file: fs.createReadStream(file), purpose: "batch" });
      return { id: f.id, ms: performance.now() - t0 };
    };
    const idle = await upload();
    const running = await client.batches.create({
      input_file_id: idle.id,
      endpoint: "/v1/chat/completions",
      completion_window: "24h",
    });
    // wait until it executes lines, then upload and poll beside it
    while ((await client.batches.retrieve(running.id)).status !== "in_progress")
      await new Promise((r) => setTimeout(r, 5));
    const t0 = performance.now();
    await client.batches.retrieve(running.id);
    const pollMs = performance.now() - t0;
    const beside = await upload();
    const after = await client.batches.retrieve(running.id);
    console.log(
      `${(fs.statSync(file).size / MB).toFixed(0)} MB upload: ${idle.ms.toFixed(0)} ms idle, ${beside.ms.toFixed(0)} ms beside a running 50,000-line batch (${after.status} after it); a poll beside it ${pollMs.toFixed(0)} ms`,
    );
    await emu.close();
  }

  const targetMB = Number(process.env.BENCH_EMU_MB ?? 150);
  const file = path.join(dir, "big.jsonl");
  const lines = await writeLines(file, Math.ceil((targetMB * MB) / 3700), (i) => `${i} ${"x".repeat(3600)}`);
  const bytes = fs.statSync(file).size;
  const child = spawn(process.execPath, [BIN, "--port", "0"], { stdio: ["ignore", "pipe", "inherit"] });
  const [line] = await once(child.stdout, "data");
  const url = String(line).trim().split(" on ")[1];
  let peak = 0;
  const sampler = setInterval(() => {
    const m = /VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${child.pid}/status`, "utf8"));
    peak = Math.max(peak, Number(m?.[1] ?? 0) * 1024);
  }, 25);
  const client = new OpenAI({ baseURL: url, apiKey: "bench", maxRetries: 0, timeout: 600_000 });
  const t0 = performance.now();
  const uploaded = await client.files.create({ file: fs.createReadStream(file), purpose: "batch" });
  const tUp = (performance.now() - t0) / 1000;
  const batch = await runBatch(client, undefined, uploaded.id);
  const tAll = (performance.now() - t0) / 1000;
  clearInterval(sampler);
  const hwm =
    Number(/VmHWM:\s+(\d+)/.exec(fs.readFileSync(`/proc/${child.pid}/status`, "utf8"))?.[1] ?? 0) * 1024;
  console.log(
    `${(bytes / MB).toFixed(0)} MB input (${lines.toLocaleString("en-US")} lines) via the bin: upload ${tUp.toFixed(1)} s (${(bytes / MB / tUp).toFixed(0)} MB/s), ` +
      `upload + run ${tAll.toFixed(1)} s, status ${batch.status}; emulator peak RSS ${(Math.max(peak, hwm) / MB).toFixed(0)} MB`,
  );
  child.kill("SIGTERM");
  await once(child, "exit");
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}

async function writeLines(file, n, content) {
  const out = fs.createWriteStream(file);
  for (let i = 0; i < n; i++) {
    const line = `${JSON.stringify({
      custom_id: `r-${i}`,
      method: "POST",
      url: "/v1/chat/completions",
      body: { model: "gpt-4o-mini", messages: [{ role: "user", content: content(i) }] },
    })}\n`;
    if (!out.write(line)) await once(out, "drain");
  }
  out.end();
  await once(out, "finish");
  return n;
}

async function runBatch(client, file, fileId) {
  const id = fileId ?? (await client.files.create({ file: fs.createReadStream(file), purpose: "batch" })).id;
  const created = await client.batches.create({
    input_file_id: id,
    endpoint: "/v1/chat/completions",
    completion_window: "24h",
  });
  for (;;) {
    const b = await client.batches.retrieve(created.id);
    if (["completed", "failed", "expired", "cancelled"].includes(b.status)) return b;
    await new Promise((r) => setTimeout(r, 50));
  }
}
