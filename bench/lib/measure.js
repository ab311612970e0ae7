// Runs a Node script in a child process and measures its wall time and peak RSS.
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const PRELOAD = path.join(path.dirname(fileURLToPath(import.meta.url)), "rss-preload.cjs");

/**
 * @param {{ script: string, args?: string[], env?: Record<string,string>, cwd?: string, nodeArgs?: string[], onLine?: (line: string, atMs: number) => void }} o
 *   onLine: called with each stdout line and the time it arrived (ms since the start)
 *   mainRunMs / mainWaitMs: how long the process's main thread ran, and waited for a core while
 *   ready to run (Linux; null elsewhere)
 * @returns {Promise<{ code: number | null, wallMs: number, peakRssMB: number | null, cpuMs: number | null, mainRunMs: number | null, mainWaitMs: number | null, stdout: string, stderr: string }>}
 */
export async function runMeasured(o) {
  const rssFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "bench-rss-")), "rss");
  const started = performance.now();
  const child = spawn(
    process.execPath,
    [...(o.nodeArgs ?? []), "--require", PRELOAD, o.script, ...(o.args ?? [])],
    {
      cwd: o.cwd,
      env: { ...process.env, ...o.env, BENCH_RSS_FILE: rssFile },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let stdout = "";
  let stderr = "";
  let pending = "";
  child.stdout.setEncoding("utf8").on("data", (d) => {
    if (o.onLine) {
      const lines = (pending + d).split("\n");
      pending = lines.pop();
      const at = performance.now() - started;
      for (const line of lines) o.onLine(line, at);
    }
    stdout += d;
    if (stdout.length > 4e6) stdout = stdout.slice(-2e6);
  });
  child.stderr.setEncoding("utf8").on("data", (d) => {
    stderr += d;
    if (stderr.length > 1e6) stderr = stderr.slice(-5e5);
  });
  const code = await new Promise((resolve) => child.on("close", (c) => resolve(c)));
  const wallMs = performance.now() - started;
  let peakRssMB = null;
  let cpuMs = null;
  let mainRunMs = null;
  let mainWaitMs = null;
  try {
    const usage = JSON.parse(fs.readFileSync(rssFile, "utf8"));
    peakRssMB = usage.maxRSS / 1024;
    cpuMs = usage.cpuMs;
    mainRunMs = usage.mainRunMs ?? null;
    mainWaitMs = usage.mainWaitMs ?? null;
  } catch {}
  fs.rmSync(path.dirname(rssFile), { recursive: true, force: true });
  return { code, wallMs, peakRssMB, cpuMs, mainRunMs, mainWaitMs, stdout, stderr };
}

// USER_HZ: 100 on every Linux this runs on (getconf CLK_TCK)
const CLOCK_TICKS = 100;

/** CPU time (user + system, ms) process `pid` has used so far, from /proc (Linux; null elsewhere) */
export function processCpuMs(pid) {
  try {
    // utime and stime are fields 14 and 15 of the line (11 and 12 after the command's closing paren)
    const fields = fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
  } catch {
    return null;
  }
}

/** the median of the known values (the lower middle one of an even count); null when none is known */
export function median(values) {
  const known = values.filter((v) => v != null).sort((a, b) => a - b);
  return known.length === 0 ? null : known[Math.floor((known.length - 1) / 2)];
}
