import { testProvider } from "@batchpipe/core/testing";
import { createEmulator, type Emulator } from "@batchpipe/openai-emulator";
import { afterAll, beforeAll, test } from "vitest";
import anthropic from "../src/index.js";

// the emulator's Anthropic side over loopback HTTP, slow enough that a cancel meets a running batch
let emulator: Emulator;
beforeAll(async () => {
  emulator = await createEmulator({ latencies: { linesPerSecond: 20 } });
});
afterAll(() => emulator.close());

const checks = testProvider(anthropic, {
  makeOptions: () => ({ base_url: emulator.baseUrl, retry_min_delay_ms: 10, retry_max_delay_ms: 50 }),
  env: { ANTHROPIC_API_KEY: "sk-ant-conformance-0123456789" },
  requests: Array.from({ length: 6 }, (_, i) => ({
    custom_id: `conformance/${i + 1}: not a valid custom_id ${"x".repeat(70)}`,
    url: "",
    body: {
      model: "claude-haiku-4-5",
      max_tokens: 16,
      messages: [{ role: "user", content: `say "hi" ${i + 1}\nin one word — ünïcødé 🚀` }],
    },
  })),
  pollIntervalMs: 50,
  timeoutMs: 20_000,
  countBatches: () => emulator.state().anthropic.batches.length,
  invalidOptions: [
    { options: { base_url: "not a url" }, path: ["base_url"] },
    { options: { api_key: "" }, path: ["api_key"] },
    { options: { max_enqueued_requests: 0 }, path: ["max_enqueued_requests"] },
  ],
});

for (const check of checks) test(check.name, check.run);
