import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";
import { resolvePlugin } from "@batchpipe/core";
import { testProvider } from "@batchpipe/core/testing";
import { describe, expect, it, test } from "vitest";

const ROOT = path.resolve(import.meta.dirname, "../..");
const EXAMPLE = path.join(ROOT, "examples/writing-plugins");
const CLI = path.join(ROOT, "packages/core/bin/batchpipe.js");

// loaded as the engine loads it: resolved from the spec's folder, TypeScript through jiti
const echo = await resolvePlugin("provider", "./providers/echo-provider.ts", { dir: EXAMPLE });

describe("the echo provider (examples/writing-plugins/providers/echo-provider.ts)", () => {
  const checks = testProvider(echo, {
    makeOptions: (dir) => ({ dir: path.join(dir, "echo"), polls: 2 }),
    pollIntervalMs: 10,
    timeoutMs: 5_000,
    invalidOptions: [{ options: { polls: -1 }, path: ["polls"] }],
  });
  for (const check of checks) test(check.name, check.run);
});

/*
 * The engine end to end on the echo provider: `batchpipe run echo.yaml`, and the same after a
 * kill -9 mid-run. Skipped until the read phase writes shard lines with the provider's `encode`
 * (today it writes OpenAI's line whatever the provider; the echo provider's own line format is
 * different on purpose). Checked at 60d426a with the echo provider temporarily reading OpenAI's
 * lines: all three pass. Integrator: drop the `.skip` once encode is used; the event names
 * (`shard_submitted`, `shard_collected`) are today's `--json` events.
 */
describe.skip("batchpipe run on the echo provider (needs the read phase on provider.encode)", () => {
  it("answers every record once, locally", async () => {
    const dir = copyExample();
    const run = await runCli(dir, ["run", "echo.yaml", "--json"]);
    expect(run.code, run.stderr).toBe(0);
    expectEachOnce(dir);
    // clean_up: the provider's batch files are gone
    expect(fs.readdirSync(path.join(dir, ".echo-provider"))).toEqual([]);
  });

  for (const moment of ["shard_submitted", "shard_collected"]) {
    it(`resumes after a kill -9 at the first ${moment}: every record once, no batch created twice`, async () => {
      const dir = copyExample();
      const killed = await runCli(dir, ["run", "echo.yaml", "--json"], moment);
      expect(killed.signal).toBe("SIGKILL");
      const resumed = await runCli(dir, ["run", "echo.yaml", "--json"]);
      expect(resumed.code, resumed.stderr).toBe(0);
      expectEachOnce(dir);
      const submitted = [...killed.events, ...resumed.events].filter((e) => e.type === "shard_submitted");
      const fresh = submitted.filter((e) => !e.adopted).map((e) => `${e.shard}#${e.submission}`);
      expect(new Set(fresh).size, "a shard submission created twice").toBe(fresh.length);
    });
  }
});

function copyExample(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bp-echo-"));
  for (const file of ["echo.yaml", "data.jsonl", "providers/echo-provider.ts"]) {
    fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    fs.copyFileSync(path.join(EXAMPLE, file), path.join(dir, file));
  }
  return dir;
}

function expectEachOnce(dir: string): void {
  const read = (file: string) =>
    fs.existsSync(file)
      ? fs
          .readFileSync(file, "utf8")
          .split("\n")
          .filter(Boolean)
          .map((line) => JSON.parse(line) as { id: string; output?: unknown })
      : [];
  const rows = read(path.join(dir, "out/echo.jsonl"));
  expect(read(path.join(dir, "out/echo-errors.jsonl"))).toEqual([]);
  const ids = fs
    .readFileSync(path.join(dir, "data.jsonl"), "utf8")
    .split("\n")
    .filter(Boolean)
    .map((line) => (JSON.parse(line) as { id: string }).id);
  expect(rows.map((r) => r.id).sort()).toEqual(ids.sort());
  expect(rows[0]?.output).toEqual(expect.any(String));
}

interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
  events: { type: string; [key: string]: unknown }[];
}

/** the CLI as a child process; with `killAt`, SIGKILL at the first event of that type */
function runCli(cwd: string, args: string[], killAt?: string): Promise<CliRun> {
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd,
    env: { ...process.env, NO_COLOR: "1", OPENAI_API_KEY: "" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const run: CliRun = { code: null, signal: null, stderr: "", events: [] };
  readline.createInterface({ input: child.stdout }).on("line", (line) => {
    if (!line.startsWith("{")) return;
    const event = JSON.parse(line) as CliRun["events"][number];
    run.events.push(event);
    if (event.type === killAt) child.kill("SIGKILL");
  });
  child.stderr.on("data", (chunk) => {
    run.stderr += chunk;
  });
  return new Promise((resolve) => {
    child.once("close", (code, signal) => resolve({ ...run, code, signal }));
  });
}
