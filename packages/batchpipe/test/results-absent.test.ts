// A batch whose counts say its requests completed, but whose results are absent (no output file
// id, yet: a known OpenAI quirk) or empty (a 200 with no body, a proxy's page sent as text/plain),
// is asked again on a backoff before its requests are paid for again; when they are, a warning says
// what the provider did. A loopback proxy in front of the emulator blanks output_file_id.
import fs from "node:fs";
import path from "node:path";
import type { Emulator, EmulatorOptions } from "@batchpipe/openai-emulator";
import { afterEach, describe, expect, it } from "vitest";
import { anthropicState, env, KEY, reportOf, writeAnthropicPipeline } from "./support/anthropic.js";
import {
  batchpipe,
  readJsonl,
  records,
  report,
  startEmulator,
  startEmulatorProcess,
  tempDir,
  writePipeline,
} from "./support/harness.js";
import { type LoopbackProxy, startProxy } from "./support/loopback-proxy.js";

let emu: Emulator | undefined;
let proxy: LoopbackProxy | undefined;
afterEach(async () => {
  await proxy?.close();
  await emu?.close();
  emu = undefined;
  proxy = undefined;
});

/** a completed batch's output_file_id reads null for its first `blank` retrieves */
async function blankingProxy(target: string, blank: number): Promise<string> {
  let blanked = 0;
  proxy = await startProxy(target, (req, body) => {
    if (req.method !== "GET" || !/^\/v1\/batches\/[^/?]+$/.test(req.url ?? "")) return undefined;
    const batch = JSON.parse(body.toString()) as { status?: string; output_file_id?: string | null };
    if (batch.status !== "completed" || blanked >= blank) return undefined;
    blanked++;
    batch.output_file_id = null;
    return { body: Buffer.from(JSON.stringify(batch)) };
  });
  return `${proxy.origin}/v1`;
}

async function runAt(baseUrl: (emu: Emulator) => Promise<string> | string, options: EmulatorOptions = {}) {
  emu = await startEmulator(options);
  const dir = tempDir();
  fs.writeFileSync(path.join(dir, "data.jsonl"), records(20));
  const spec = writePipeline(dir, { baseUrl: await baseUrl(emu), batch: { max_attempts: 2 } });
  const run = await batchpipe(["run", spec, "--json"], { cwd: dir, timeoutMs: 60_000 });
  return {
    run,
    batches: emu.state().batches,
    errors: readJsonl<{ id: string; error: { code: string } }>(path.join(dir, "out/errors.jsonl")),
    warnings: run.events.filter((e) => e.type === "warning").map((e) => String(e.message)),
  };
}

const CONTENT = "GET /v1/files/:id/content";

describe("results the batch's counts promise but that are absent", () => {
  it("an output file id that shows up late: asked again, read, nothing paid twice", async () => {
    const { run, batches } = await runAt((e) => blankingProxy(e.url, 2));
    expect(run.code, run.stderr).toBe(0);
    expect(report(run)).toMatchObject({ succeeded: 20, missing: 0, retried: 0, batches: 1 });
    expect(batches).toHaveLength(1);
  });

  it("an empty 200 download and a proxy's page as text/plain: read again, nothing paid twice", async () => {
    for (const fault of [
      { route: CONTENT, calls: [1], status: 200, body: "", contentType: "application/octet-stream" },
      {
        route: CONTENT,
        calls: [1],
        status: 200,
        body: "<html>Proxy error</html>",
        contentType: "text/plain",
      },
    ]) {
      const { run, batches } = await runAt((e) => e.url, { faults: [fault] });
      expect(run.code, run.stderr).toBe(0);
      expect(report(run)).toMatchObject({ succeeded: 20, missing: 0, retried: 0, batches: 1 });
      expect(batches).toHaveLength(1);
      await emu?.close();
      emu = undefined;
    }
  });

  it("an output file that never shows: after 3 tries its requests are retried, and the warning says they were done and billed", async () => {
    const { run, batches, errors, warnings } = await runAt((e) => blankingProxy(e.url, 1_000));
    expect(run.code).toBe(3);
    expect(batches).toHaveLength(2);
    expect(new Set(errors.map((e) => e.error.code))).toEqual(new Set(["missing_result"]));
    expect(warnings.filter((w) => /reports 20 requests completed \(done, and billed/.test(w)).length).toBe(6);
    expect(warnings.some((w) => /could not be read.*20 requests completed/.test(w))).toBe(true);
  });

  it("anthropic: an empty 200 results download is read again, nothing paid twice", async () => {
    const anth = await startEmulatorProcess({
      apiKey: KEY,
      timeScale: 1,
      latencies: { linesPerSecond: 2000 },
      faults: [{ route: "GET /v1/messages/batches/:id/results", calls: [1], status: 200, body: "" }],
    });
    try {
      const dir = tempDir();
      writeAnthropicPipeline(dir, { name: "anth-empty", baseUrl: anth.origin, n: 20 });
      const run = await batchpipe(["run", "pipeline.yaml", "--json"], { cwd: dir, env });
      expect(run.code, run.stderr).toBe(0);
      expect(reportOf(run.events)).toMatchObject({ succeeded: 20, missing: 0, retried: 0, batches: 1 });
      expect((await anthropicState(anth)).batches).toHaveLength(1);
    } finally {
      await anth.close();
    }
  });
});
