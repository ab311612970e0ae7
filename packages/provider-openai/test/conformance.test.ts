import { testProvider } from "@batchpipe/core/testing";
import { createEmulator, type Emulator } from "@batchpipe/openai-emulator";
import { afterAll, beforeAll, test } from "vitest";
import openai from "../src/index.js";

// a real HTTP server on loopback; slow enough (20 lines a second) that a cancel meets a running batch
let emulator: Emulator;
beforeAll(async () => {
  emulator = await createEmulator({ latencies: { linesPerSecond: 20 } });
});
afterAll(() => emulator.close());

const checks = testProvider(openai, {
  makeOptions: () => ({ base_url: emulator.url, retry_min_delay_ms: 10, retry_max_delay_ms: 50 }),
  env: { OPENAI_API_KEY: "sk-conformance-0123456789" },
  pollIntervalMs: 50,
  timeoutMs: 20_000,
  countBatches: () => emulator.state().batches.length,
  invalidOptions: [
    { options: { base_url: "not a url" }, path: ["base_url"] },
    { options: { api_key: "" }, path: ["api_key"] },
    { options: { retry_attempts: 0 }, path: ["retry_attempts"] },
  ],
});

for (const check of checks) test(check.name, check.run);
