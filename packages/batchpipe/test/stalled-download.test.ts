// A result download that stalls mid-body (the headers and half the file, then silence, the
// connection left open) fails after timeout_ms without data and is read again: before, the run hung
// for ever without a word (timeout_ms covered the wait for the headers only). openai and anthropic.
import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { env, KEY, reportOf, writeAnthropicPipeline } from "./support/anthropic.js";
import {
  batchpipe,
  type EmulatorProcess,
  records,
  report,
  startEmulatorProcess,
  tempDir,
  writePipeline,
} from "./support/harness.js";
import { type LoopbackProxy, startProxy } from "./support/loopback-proxy.js";

let emu: EmulatorProcess | undefined;
let proxy: LoopbackProxy | undefined;
afterEach(async () => {
  await proxy?.close();
  await emu?.close();
  emu = undefined;
  proxy = undefined;
});

/** the first download whose path matches stalls half-way */
async function stallFirst(target: string, route: RegExp): Promise<string> {
  let stalled = 0;
  proxy = await startProxy(target, (req) =>
    route.test(req.url ?? "") && stalled++ === 0 ? { stall: true } : undefined,
  );
  return proxy.origin;
}

describe("a result download that stalls mid-body", () => {
  it("openai: fails after timeout_ms of silence, is read again; every record once, one batch", async () => {
    emu = await startEmulatorProcess({ timeScale: 3600 });
    const origin = await stallFirst(emu.url, /^\/v1\/files\/[^/]+\/content/);
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, "data.jsonl"), records(20));
    const spec = writePipeline(dir, { baseUrl: `${origin}/v1`, provider: ["timeout_ms: 1000"] });
    const run = await batchpipe(["run", spec, "--json"], { cwd: dir, timeoutMs: 30_000 });
    expect(run.code, run.stderr).toBe(0);
    expect(report(run)).toMatchObject({ succeeded: 20, retried: 0, batches: 1 });
    const warnings = run.events.filter((e) => e.type === "warning").map((e) => String(e.message));
    expect(warnings.some((w) => /could not read the results.*sent nothing for 1000 ms/.test(w))).toBe(true);
  });

  it("anthropic: the same", async () => {
    emu = await startEmulatorProcess({ apiKey: KEY, timeScale: 1, latencies: { linesPerSecond: 2000 } });
    const origin = await stallFirst(emu.origin, /^\/v1\/messages\/batches\/[^/]+\/results/);
    const dir = tempDir();
    writeAnthropicPipeline(dir, {
      name: "anth-stall",
      baseUrl: origin,
      n: 20,
      provider: ["timeout_ms: 1000"],
    });
    const run = await batchpipe(["run", "pipeline.yaml", "--json"], { cwd: dir, env, timeoutMs: 30_000 });
    expect(run.code, run.stderr).toBe(0);
    expect(reportOf(run.events)).toMatchObject({ succeeded: 20, retried: 0, batches: 1 });
    const warnings = run.events.filter((e) => e.type === "warning").map((e) => String(e.message));
    expect(warnings.some((w) => /could not read the results.*sent nothing for 1000 ms/.test(w))).toBe(true);
  });
});
