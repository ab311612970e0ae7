/**
 * Helpers for the runner, daemon and watch tests (beside the engine's e2e fixtures): the emulator's
 * bin in its own process, node and the real CLI in child processes, temp folders, JSONL readers.
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { type EmulatorProcess, startEmulator } from "./fixtures/engine/e2e.js";

export const ROOT = path.resolve(import.meta.dirname, "../../..");
export const CLI = path.join(ROOT, "packages/core/bin/batchpipe.js");

export const CHILD_ENV = { ...process.env, OPENAI_API_KEY: "sk-test", NO_COLOR: "1", FORCE_COLOR: undefined };

export function tempDir(prefix = "bp-runner-"): string {
  return fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), prefix)));
}

export { checkExactlyOnce as exactlyOnce, type EmulatorProcess, readJsonl } from "./fixtures/engine/e2e.js";

/** the emulator's bin in its own process (it outlives a SIGKILLed batchpipe); 1000× time by default */
export function startEmulatorProcess(config: Record<string, unknown> = {}): Promise<EmulatorProcess> {
  return startEmulator({ timeScale: 1000, ...config });
}

/** the custom_ids of an uploaded batch input file, read back from the emulator */
export async function fileIds(emulator: EmulatorProcess, fileId: string): Promise<string[]> {
  const res = await fetch(`${emulator.url}/files/${fileId}/content`, {
    headers: { authorization: "Bearer sk-test" },
  });
  return (await res.text())
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => (JSON.parse(l) as { custom_id: string }).custom_id);
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
