/**
 * Helpers for the runner, daemon and watch tests: the emulator's bin as a separate process (so it
 * outlives a SIGKILLed batchpipe), the real CLI in child processes, temp folders, JSONL readers.
 */
import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";

export const ROOT = path.resolve(import.meta.dirname, "../../..");
export const CLI = path.join(ROOT, "packages/core/bin/batchpipe.js");
const EMULATOR_BIN = path.join(ROOT, "packages/openai-emulator/bin/batchpipe-emulator.js");

export const CHILD_ENV = { ...process.env, OPENAI_API_KEY: "sk-test", NO_COLOR: "1", FORCE_COLOR: undefined };

export function tempDir(prefix = "bp-runner-"): string {
  return fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), prefix)));
}

export interface EmulatorBatch {
  id: string;
  status: string;
  metadata: Record<string, string> | null;
  input_file_id: string;
  input_sha256: string;
  request_counts: { total: number; completed: number; failed: number };
}

export interface EmulatorProcess {
  url: string;
  origin: string;
  child: ChildProcess;
  state(): Promise<{ batches: EmulatorBatch[]; counters: Record<string, number> }>;
  /** the custom_ids of a file's lines */
  fileIds(fileId: string): Promise<string[]>;
  close(): Promise<void>;
}

export async function startEmulatorProcess(config: Record<string, unknown> = {}): Promise<EmulatorProcess> {
  const dir = tempDir("bp-emu-");
  const configFile = path.join(dir, "emulator.json");
  fs.writeFileSync(configFile, JSON.stringify({ seed: 7, timeScale: 1000, ...config }));
  const child = spawn(process.execPath, [EMULATOR_BIN, "--port", "0", "--config", configFile], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr!.on("data", (d) => {
    stderr += d;
  });
  const url = await new Promise<string>((resolve, reject) => {
    const rl = readline.createInterface({ input: child.stdout! });
    rl.on("line", (line) => {
      const m = /listening on (\S+)/.exec(line);
      if (m) resolve(m[1]!);
    });
    child.once("exit", (code) => reject(new Error(`emulator exited ${code}: ${stderr}`)));
  });
  const origin = new URL(url).origin;
  return {
    url,
    origin,
    child,
    async state() {
      return (await (await fetch(`${origin}/_emulator/state`)).json()) as Awaited<
        ReturnType<EmulatorProcess["state"]>
      >;
    },
    async fileIds(fileId) {
      const res = await fetch(`${url}/files/${fileId}/content`, {
        headers: { authorization: "Bearer sk-test" },
      });
      const text = await res.text();
      return text
        .split("\n")
        .filter((l) => l.trim() !== "")
        .map((l) => (JSON.parse(l) as { custom_id: string }).custom_id);
    },
    async close() {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      await exited;
    },
  };
}

export interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** run node with `args` to the end */
export function runNode(
  args: string[],
  options: { cwd?: string; env?: Record<string, string | undefined>; timeoutMs?: number } = {},
): Promise<ChildResult> {
  const child = spawn(process.execPath, args, {
    cwd: options.cwd,
    env: { ...CHILD_ENV, ...options.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const result: ChildResult = { code: null, signal: null, stdout: "", stderr: "" };
  child.stdout!.on("data", (d) => {
    result.stdout += d;
  });
  child.stderr!.on("data", (d) => {
    result.stderr += d;
  });
  const timer = options.timeoutMs ? setTimeout(() => child.kill("SIGKILL"), options.timeoutMs) : undefined;
  return new Promise((resolve) => {
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      result.code = code;
      result.signal = signal;
      resolve(result);
    });
  });
}

/** the CLI to the end */
export function runCliProcess(
  args: string[],
  options: { cwd?: string; env?: Record<string, string | undefined>; timeoutMs?: number } = {},
): Promise<ChildResult> {
  return runNode([CLI, ...args], options);
}

export function readJsonl<T = Record<string, unknown>>(file: string): T[] {
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as T);
}

/** ids seen more than once, and expected ids never seen */
export function exactlyOnce(
  ids: string[],
  expected: Iterable<string>,
): { missing: string[]; duplicated: string[]; extra: string[] } {
  const counts = new Map<string, number>();
  for (const id of ids) counts.set(id, (counts.get(id) ?? 0) + 1);
  const want = new Set(expected);
  return {
    missing: [...want].filter((id) => !counts.has(id)),
    duplicated: [...counts].filter(([, n]) => n > 1).map(([id]) => id),
    extra: [...counts.keys()].filter((id) => !want.has(id)),
  };
}

export async function waitFor(
  check: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}
