// The API key never reaches the errors sink, even when a provider's per-request error message
// echoes it (a loopback proxy rewrites every result line into a 400 whose message quotes the
// request's Authorization / x-api-key header): API call errors were redacted, result lines were not.
import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { env, KEY, writeAnthropicPipeline } from "./support/anthropic.js";
import {
  batchpipe,
  type EmulatorProcess,
  filesContaining,
  records,
  startEmulatorProcess,
  tempDir,
  writePipeline,
} from "./support/harness.js";
import { type LoopbackProxy, startProxy } from "./support/loopback-proxy.js";

const OPENAI_KEY = "sk-proj-echoed0123456789abcdef";

let emu: EmulatorProcess | undefined;
let proxy: LoopbackProxy | undefined;
afterEach(async () => {
  await proxy?.close();
  await emu?.close();
  emu = undefined;
  proxy = undefined;
});

/** every result line of a download matching `route` becomes a failure whose message is `fail(header)` */
async function echoingProxy(
  target: string,
  route: RegExp,
  fail: (line: Record<string, unknown>, key: string) => void,
) {
  proxy = await startProxy(target, (req, body) => {
    if (!route.test(req.url ?? "")) return undefined;
    const key = String(req.headers.authorization ?? req.headers["x-api-key"] ?? "");
    const lines = body
      .toString()
      .split("\n")
      .filter((l) => l !== "")
      .map((l) => {
        const line = JSON.parse(l) as Record<string, unknown>;
        fail(line, key);
        return JSON.stringify(line);
      });
    return { body: Buffer.from(`${lines.join("\n")}\n`) };
  });
  return proxy.origin;
}

function errorsOf(dir: string): string {
  return fs.readFileSync(path.join(dir, "out/errors.jsonl"), "utf8");
}

describe("a result line's error message that echoes the key", () => {
  it("openai: the errors sink and the state have it redacted", async () => {
    emu = await startEmulatorProcess({ timeScale: 3600 });
    const origin = await echoingProxy(emu.url, /^\/v1\/files\/[^/]+\/content/, (line, key) => {
      line.response = {
        status_code: 400,
        request_id: "x",
        body: { error: { message: `key used: ${key}`, type: "invalid_request_error", code: "oops" } },
      };
    });
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, "data.jsonl"), records(5));
    // biome-ignore lint/suspicious/noTemplateCurlyInString: ${VAR} is the spec syntax
    const spec = writePipeline(dir, { baseUrl: `${origin}/v1`, provider: ["api_key: ${OPENAI_API_KEY}"] });
    const run = await batchpipe(["run", spec, "--json"], { cwd: dir, env: { OPENAI_API_KEY: OPENAI_KEY } });
    expect(run.code, run.stderr).toBe(3);
    const errors = errorsOf(dir);
    expect(errors.split("\n").filter((l) => l !== "")).toHaveLength(5);
    expect(errors).toContain("key used: Bearer [redacted]");
    expect(errors).not.toContain(OPENAI_KEY);
    expect(filesContaining(dir, OPENAI_KEY)).toEqual([]);
  });

  it("anthropic: the same", async () => {
    emu = await startEmulatorProcess({ apiKey: KEY, timeScale: 1, latencies: { linesPerSecond: 2000 } });
    const origin = await echoingProxy(emu.origin, /^\/v1\/messages\/batches\/[^/]+\/results/, (line, key) => {
      line.result = {
        type: "errored",
        error: { type: "error", error: { type: "invalid_request_error", message: `key used: ${key}` } },
      };
    });
    const dir = tempDir();
    writeAnthropicPipeline(dir, { name: "anth-echo", baseUrl: origin, n: 5 });
    const run = await batchpipe(["run", "pipeline.yaml", "--json"], { cwd: dir, env });
    expect(run.code, run.stderr).toBe(3);
    const errors = errorsOf(dir);
    expect(errors).toMatch(/key used: (Bearer )?\[redacted\]/);
    expect(errors).not.toContain(KEY);
    expect(filesContaining(dir, KEY)).toEqual([]);
  });
});
