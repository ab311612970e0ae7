import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitForBatch } from "./helpers.js";

const BIN = path.resolve(import.meta.dirname, "../bin/batchpipe-emulator.js");
const MB = 1024 * 1024;

let child: ChildProcess;
let client: OpenAI;
let dir: string;
let peakRss = 0;
let sampler: NodeJS.Timeout;

/** Write `targetBytes` of valid chat request lines to disk with a stream (never in memory). */
async function writeBigJsonl(file: string, targetBytes: number): Promise<number> {
  const out = fs.createWriteStream(file);
  const pad = "x".repeat(3600);
  let bytes = 0;
  let i = 0;
  while (bytes < targetBytes) {
    const line = `${JSON.stringify({
      custom_id: `big-${i++}`,
      method: "POST",
      url: "/v1/chat/completions",
      body: { model: "gpt-4o-mini", messages: [{ role: "user", content: `${i} ${pad}` }] },
    })}\n`;
    bytes += Buffer.byteLength(line);
    if (!out.write(line)) await once(out, "drain");
  }
  out.end();
  await once(out, "finish");
  return i;
}

function readRss(pid: number): { rss: number; hwm: number } {
  const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+)`).exec(status)?.[1] ?? 0) * 1024;
  return { rss: kb("VmRSS"), hwm: kb("VmHWM") };
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "emu-big-"));
  child = spawn(process.execPath, [BIN, "--port", "0", "--seed", "7"], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const url = await new Promise<string>((resolve, reject) => {
    let buf = "";
    child.stdout!.on("data", (chunk: Buffer) => {
      buf += chunk.toString();
      const m = /^batchpipe-emulator listening on (http:\/\/\S+\/v1)$/m.exec(buf);
      if (m) resolve(m[1]!);
    });
    child.once("exit", (code) => reject(new Error(`emulator exited early with ${code}`)));
  });
  client = new OpenAI({ baseURL: url, apiKey: "test", maxRetries: 0, timeout: 170_000 });
  sampler = setInterval(() => {
    try {
      peakRss = Math.max(peakRss, readRss(child.pid!).rss);
    } catch {
      // process gone
    }
  }, 50);
});

afterAll(async () => {
  clearInterval(sampler);
  if (child.exitCode === null) {
    child.kill("SIGTERM");
    await once(child, "exit");
  }
  fs.rmSync(dir, { recursive: true, force: true });
});

describe("big inputs through the bin (child process)", () => {
  it("accepts and runs a 150 MB input while the emulator's RSS stays under 200 MB", async () => {
    const file = path.join(dir, "150mb.jsonl");
    const lines = await writeBigJsonl(file, 150 * MB);
    const started = Date.now();
    const uploaded = await client.files.create({ file: fs.createReadStream(file), purpose: "batch" });
    fs.rmSync(file);
    expect(uploaded.bytes).toBeGreaterThanOrEqual(150 * MB);
    const batch = await client.batches.create({
      input_file_id: uploaded.id,
      endpoint: "/v1/chat/completions",
      completion_window: "24h",
    });
    const { batch: done } = await waitForBatch(client, batch.id, { timeoutMs: 170_000 });
    expect(done.status).toBe("completed");
    expect(done.request_counts).toEqual({ total: lines, completed: lines, failed: 0 });
    const hwm = readRss(child.pid!).hwm;
    console.log(
      `150 MB input (${lines} lines): upload+run ${((Date.now() - started) / 1000).toFixed(1)} s, emulator VmHWM ${(hwm / MB).toFixed(0)} MB, sampled peak RSS ${(peakRss / MB).toFixed(0)} MB`,
    );
    expect(hwm).toBeLessThan(200 * MB);
    await client.files.delete(uploaded.id);
    await client.files.delete(done.output_file_id!);
  }, 180_000); // ~10 s on an idle machine; generous for a loaded one

  it("rejects a 210 MB input with the 209715200-byte message (the upload itself is accepted)", async () => {
    const file = path.join(dir, "210mb.jsonl");
    await writeBigJsonl(file, 210 * MB);
    const uploaded = await client.files.create({ file: fs.createReadStream(file), purpose: "batch" });
    fs.rmSync(file);
    const batch = await client.batches.create({
      input_file_id: uploaded.id,
      endpoint: "/v1/chat/completions",
      completion_window: "24h",
    });
    const { batch: done } = await waitForBatch(client, batch.id, { timeoutMs: 170_000 });
    expect(done.status).toBe("failed");
    expect(done.errors?.data).toEqual([
      {
        code: "file_too_large",
        line: null,
        param: null,
        message:
          "The batch input file is larger than the 209715200 maximum for the gpt-4o-mini model. Please try again with a smaller batch.",
      },
    ]);
    const hwm = readRss(child.pid!).hwm;
    console.log(`210 MB input: failed as expected; emulator VmHWM so far ${(hwm / MB).toFixed(0)} MB`);
    expect(hwm).toBeLessThan(200 * MB);
    await client.files.delete(uploaded.id);
  }, 180_000);

  it("shuts down cleanly on SIGTERM", async () => {
    child.kill("SIGTERM");
    const [code] = await once(child, "exit");
    expect(code).toBe(0);
  });
});
