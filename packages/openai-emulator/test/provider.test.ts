import path from "node:path";
import type { ProviderConnection } from "@batchpipe/core/plugin";
import { silentLogger, testProvider } from "@batchpipe/core/testing";
import { describe, expect, it, test } from "vitest";
import emulator from "../src/provider.js";

const checks = testProvider(emulator, {
  makeOptions: () => ({ emulator: { seed: 7, latencies: { linesPerSecond: 20 } }, retry_min_delay_ms: 5 }),
  pollIntervalMs: 50,
  timeoutMs: 20_000,
  // its batches live in memory and end with the connection
  durable: false,
  invalidOptions: [
    { options: { emulator: [] }, path: ["emulator"] },
    { options: { api_key: "" }, path: ["api_key"] },
  ],
});

for (const check of checks) test(check.name, check.run);

async function open(options: Record<string, unknown>): Promise<ProviderConnection> {
  return emulator.open({
    options: emulator.options.parse(options),
    env: {},
    logger: silentLogger,
    resolvePath: (p) => path.resolve(p),
    signal: new AbortController().signal,
  });
}

describe("use: emulator", () => {
  it("the result cache keeps its two dialects apart (an Anthropic answer never stands in for an OpenAI one)", () => {
    const origin = (options: object) => emulator.origin!(emulator.options.parse(options), {});
    expect(origin({})).toBeUndefined();
    expect(origin({ api: "openai" })).toBeUndefined();
    expect(origin({ api: "anthropic" })).toBe("api anthropic");
  });

  it("needs no key, and close() stops the emulator it started", async () => {
    const connection = await open({ retry_attempts: 2, retry_min_delay_ms: 5 });
    const signal = new AbortController().signal;
    const missing = { id: "batch_x", data: null };
    expect(await connection.poll(missing, { signal })).toBeNull();
    await connection.close();
    // nothing listens any more: the connection is refused
    await expect(connection.poll(missing, { signal })).rejects.toMatchObject({
      code: "PROVIDER_UNREACHABLE",
    });
  });

  it("sends emulator.apiKey as the key when the emulator requires one, and api_key when given", async () => {
    const signal = new AbortController().signal;
    const missing = { id: "batch_x", data: null };
    const matching = await open({ emulator: { apiKey: "sk-emulated-000000" } });
    try {
      expect(await matching.poll(missing, { signal })).toBeNull();
    } finally {
      await matching.close();
    }
    const wrong = await open({ emulator: { apiKey: "sk-emulated-000000" }, api_key: "sk-other-0000000" });
    try {
      await expect(wrong.poll(missing, { signal })).rejects.toMatchObject({ status: 401 });
    } finally {
      await wrong.close();
    }
  });
});
