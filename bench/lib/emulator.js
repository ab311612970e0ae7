// Starts the emulator bin in its own process (so its CPU and memory are not the measured process's).
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { processCpuMs } from "./measure.js";

const ROOT = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const BIN = path.join(ROOT, "packages/openai-emulator/bin/batchpipe-emulator.js");

/** instant completion: no validation or finalizing latency, lines as fast as the machine runs them */
export const INSTANT = {
  timeScale: 1,
  latencies: { validation: 0, finalizing: 0, linesPerSecond: 1e9 },
};

/**
 * cpuMs(): the emulator process's CPU time so far (user + system, from /proc; null where there is
 * none): a run's CPU budget on this machine is the client's plus the emulator's
 * @returns {Promise<{ url: string, state(): Promise<any>, cpuMs(): number | null, close(): Promise<void> }>}
 */
export async function startEmulator(options = INSTANT) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-emu-"));
  const config = path.join(dir, "config.json");
  fs.writeFileSync(config, JSON.stringify({ seed: 1, ...options, dataDir: path.join(dir, "data") }));
  const child = spawn(process.execPath, [BIN, "--port", "0", "--config", config], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const url = await new Promise((resolve, reject) => {
    let out = "";
    child.stdout.setEncoding("utf8").on("data", (d) => {
      out += d;
      const m = /listening on (\S+)/.exec(out);
      if (m) resolve(m[1]);
    });
    child.once("exit", (c) => reject(new Error(`emulator exited with ${c} before listening: ${out}`)));
  });
  const origin = new URL(url).origin;
  return {
    url,
    async state() {
      const res = await fetch(`${origin}/_emulator/state`);
      return res.json();
    },
    cpuMs: () => processCpuMs(child.pid),
    async close() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once("exit", r));
        child.kill("SIGTERM");
        await exited;
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
