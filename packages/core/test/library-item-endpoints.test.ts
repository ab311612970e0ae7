// What an upload() item's `messages` / `input` become on each endpoint: /v1/responses takes the
// messages as its `input`; an item whose key the endpoint cannot take fails at once as
// invalid_input, not after a batch round trip (up to the 24 h window) as the provider's invalid_request.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { officialPlugins, startEmulator, tempDir } from "../../batchpipe/test/support/harness.js";
import { type BatchInputItem, type BatchOutputItem, BatchRunner } from "../src/index.js";

let emulator: Awaited<ReturnType<typeof startEmulator>>;
beforeAll(async () => {
  emulator = await startEmulator({ timeScale: 3600 });
});
afterAll(async () => {
  await emulator?.close();
});

async function outcomes(endpoint: string, model: string) {
  const results: Record<string, string> = {};
  class Runner extends BatchRunner {
    static override workConfig = {
      name: `items-${endpoint.replace(/\W/g, "")}`,
      endpoint,
      model,
      provider: { use: "openai" as const, base_url: emulator.url, api_key: "sk-test" },
      batch: { poll_interval: "50ms" },
    };
    static override async *upload(): AsyncIterable<BatchInputItem> {
      yield { id: "messages", messages: [{ role: "user", content: "hello" }] };
      yield { id: "input", input: "hello" };
    }
    static override async download(items: AsyncIterable<BatchOutputItem>) {
      for await (const item of items)
        results[item.id] =
          item.status === "success"
            ? `success (batch ${item.batch_id ? "yes" : "no"})`
            : `${item.error?.code} (batch ${item.batch_id ? "yes" : "no"}): ${item.error?.message}`;
    }
  }
  await Runner.run({ dir: tempDir(), builtins: officialPlugins });
  return results;
}

describe("BatchRunner items on each endpoint", () => {
  it("/v1/responses: messages become the input", async () => {
    expect(await outcomes("/v1/responses", "gpt-4o-mini")).toMatchInlineSnapshot(`
      {
        "input": "success (batch yes)",
        "messages": "success (batch yes)",
      }
    `);
  });

  it("/v1/chat/completions: input is refused before any batch", async () => {
    expect(await outcomes("/v1/chat/completions", "gpt-4o-mini")).toMatchInlineSnapshot(`
      {
        "input": "invalid_input (batch no): /v1/chat/completions takes messages, not input: yield { id, messages } (or a whole body)",
        "messages": "success (batch yes)",
      }
    `);
  });

  it("/v1/embeddings: messages are refused before any batch", async () => {
    expect(await outcomes("/v1/embeddings", "text-embedding-3-small")).toMatchInlineSnapshot(`
      {
        "input": "success (batch yes)",
        "messages": "invalid_input (batch no): /v1/embeddings takes input, not messages: yield { id, input } (or a whole body)",
      }
    `);
  });
});
