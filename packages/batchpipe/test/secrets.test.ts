// The API key never leaks: not into the state folder (SQLite file, WAL, shards), the sinks, the
// log, an error message, a --json event or --debug crash output, even when a provider echoes it
// back. And provider.api_key in YAML must be an environment reference unless --allow-inline-secrets.
import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import type { Emulator } from "@batchpipe/openai-emulator";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  batchpipe,
  cli,
  filesContaining,
  records,
  startBatchpipe,
  startEmulator,
  tempDir,
  waitFor,
  writePipeline,
} from "./support/harness.js";

const KEY = "sk-test-LEAKCHECK-123456";
// a ${VAR} reference in YAML, not a JS template
const KEY_REF = ["api_key: $", "{BP_KEY}"].join("");
const STACK_LINE = /^\s+at .+[:(]\d+:\d+\)?$/m;

let emu: Emulator;
let echo: http.Server;
let echoUrl: string;
beforeAll(async () => {
  emu = await startEmulator({
    apiKey: KEY,
    lineRules: [{ customIds: ["r2"], error: "context_length_exceeded" }],
  });
  // a careless "compatible" provider that repeats the bearer token in every error
  echo = http.createServer((req, res) => {
    req.resume();
    res.writeHead(400, { "content-type": "application/json", "x-echo": String(req.headers.authorization) });
    res.end(
      JSON.stringify({
        error: { message: `bad request with ${req.headers.authorization}`, type: "invalid_request_error" },
      }),
    );
  });
  await new Promise<void>((resolve) => echo.listen(0, "127.0.0.1", resolve));
  echoUrl = `http://127.0.0.1:${(echo.address() as AddressInfo).port}/v1`;
});
afterAll(async () => {
  await emu?.close();
  await new Promise((resolve) => echo?.close(resolve));
});

function expectNoKey(dir: string, runs: { stdout: string; stderr: string }[]) {
  for (const run of runs) {
    expect(run.stdout).not.toContain(KEY);
    expect(run.stderr).not.toContain(KEY);
    // not even the distinctive middle of it
    expect(`${run.stdout}${run.stderr}`).not.toContain("LEAKCHECK");
  }
  expect(filesContaining(dir, KEY)).toEqual([]);
  expect(filesContaining(dir, "LEAKCHECK")).toEqual([]);
}

describe("secrets", () => {
  it("after failing runs with a fake key, the key is in no state file, sink, log, event or --debug output", async () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, "data.jsonl"), records(5));
    const env = { OPENAI_API_KEY: undefined, BP_KEY: KEY };
    const good = writePipeline(dir, { baseUrl: emu.url, name: "secrets", provider: [KEY_REF] });

    // 1. a run that ends with failed requests (exit 3), with events and debug output
    const partial = await batchpipe(["run", good, "--json", "--debug"], { cwd: dir, env });
    expect(partial.code).toBe(3);
    const stateDir = path.join(dir, ".batchpipe/secrets");
    expect(fs.readdirSync(stateDir).some((f) => f.startsWith("state.db"))).toBe(true);

    // 2. a provider that echoes the key in its errors: the run fails (exit 1) with --debug causes
    fs.writeFileSync(path.join(dir, "data.jsonl"), records(5, 100));
    writePipeline(dir, { baseUrl: echoUrl, name: "secrets", provider: [KEY_REF] });
    const echoed = await batchpipe(["run", good, "--json", "--debug"], { cwd: dir, env });
    expect(echoed.code).toBe(1);
    expect(echoed.stderr).toMatch(/redacted/);

    // the same in the background: its log file lands in the state folder
    const detached = await batchpipe(["run", good, "--detach", "--json"], { cwd: dir, env });
    expect(detached.code).toBe(0);
    const daemon = detached.events.find((e) => e.type === "detached") as { pid: number; log: string };
    for (let i = 0; i < 300 && fs.existsSync(`/proc/${daemon.pid}`); i++) await sleep(100);
    expect(fs.readFileSync(daemon.log, "utf8")).toMatch(/redacted/);

    // 3. a wrong key for the emulator: 401
    writePipeline(dir, { baseUrl: emu.url, name: "secrets", provider: [KEY_REF] });
    const wrong = await batchpipe(["run", good, "--json", "--debug"], {
      cwd: dir,
      env: { ...env, BP_KEY: `${KEY}-wrong` },
    });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/API key|401/);

    expectNoKey(dir, [partial, echoed, detached, wrong]);
  });

  it("an inline provider.api_key is a located spec error (exit 2) on run, validate and plan unless --allow-inline-secrets", async () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, "data.jsonl"), records(3, 10));
    const spec = writePipeline(dir, { baseUrl: emu.url, provider: [`api_key: ${KEY}`] });
    const keyLine =
      fs
        .readFileSync(spec, "utf8")
        .split("\n")
        .findIndex((l) => l.includes(KEY)) + 1;
    const env = { OPENAI_API_KEY: undefined };
    const refused: { stdout: string; stderr: string }[] = [];
    for (const command of ["validate", "plan", "run"]) {
      const run = await cli([command, spec], { cwd: dir, env });
      expect(run.code, `${command}: ${run.stderr}`).toBe(2);
      expect(run.stderr).toMatch(new RegExp(`pipeline\\.yaml:${keyLine}:\\d+`));
      expect(run.stderr).toMatch(/api_key/);
      expect(run.stderr).not.toMatch(STACK_LINE);
      refused.push(run);
    }
    // nothing was created by the refused commands
    expect(fs.existsSync(path.join(dir, ".batchpipe"))).toBe(false);

    const allowed: { stdout: string; stderr: string }[] = [];
    for (const command of ["validate", "plan"]) {
      const run = await cli([command, spec, "--allow-inline-secrets"], { cwd: dir, env });
      expect(run.code, `${command}: ${run.stderr}`).toBe(0);
      allowed.push(run);
    }
    const run = await batchpipe(["run", spec, "--allow-inline-secrets", "--json"], { cwd: dir, env });
    expect(run.code, run.stderr).toBe(0);
    allowed.push(run);
    // view refuses it too, and takes the flag (it had none: a spec allowed so could not be viewed)
    const notViewed = await cli(["view", spec, "--port", "0"], { cwd: dir, env });
    expect(notViewed.code).toBe(2);
    expect(notViewed.stderr).toMatch(/api_key/);
    const view = startBatchpipe(["view", spec, "--port", "0", "--allow-inline-secrets"], { cwd: dir, env });
    await waitFor(() => view.stdout().includes("listening on"), 30_000, "view to listen");
    view.child.kill("SIGINT");
    const viewed = await view.done;
    expect(viewed.code, viewed.stderr).toBe(0);
    allowed.push(viewed);
    // the spec holds the key (the user's choice); nothing batchpipe wrote does
    fs.rmSync(spec);
    expectNoKey(dir, [...refused, ...allowed]);
  });

  // before, every command that only reads the state refused a spec whose key variable is unset
  // (SPEC_INVALID, exit 2): a detached run could not be looked at or stopped from another shell
  it("status, runs, logs, cache and stop read the state without the key; run, plan and cancel still need it", async () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, "data.jsonl"), records(5));
    const spec = writePipeline(dir, { baseUrl: emu.url, name: "keyless", provider: [KEY_REF] });
    const first = await batchpipe(["run", spec], {
      cwd: dir,
      env: { OPENAI_API_KEY: undefined, BP_KEY: KEY },
    });
    expect(first.code).toBe(3);
    const env = { OPENAI_API_KEY: undefined, BP_KEY: undefined };
    for (const command of ["status", "runs", "logs", "cache", "stop"]) {
      const run = await cli([command, spec], { cwd: dir, env });
      expect({ command, stderr: run.stderr }).not.toMatchObject({
        stderr: expect.stringContaining("BP_KEY"),
      });
      expect(run.stderr, command).not.toContain("SPEC_INVALID");
    }
    const status = JSON.parse((await cli(["status", spec, "--json"], { cwd: dir, env })).stdout);
    expect(status).toMatchObject({ name: "keyless" });
    expect(JSON.stringify(status)).toMatch(/"succeeded": ?4/);
    for (const command of ["run", "plan", "cancel"]) {
      const run = await cli([command, spec], { cwd: dir, env });
      expect({ command, code: run.code }).toEqual({ command, code: 2 });
      expect(run.stderr, command).toContain("BP_KEY");
    }
  });
});

function sleep(ms: number) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
