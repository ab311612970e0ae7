// An app's onEvent callback that throws (a logger writing to a closed socket) stops the run with its
// state saved and a BatchpipeError saying so; the next run resumes and pays for nothing twice.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { officialPlugins, startEmulator, tempDir } from "../../batchpipe/test/support/harness.js";
import { type BatchInputItem, type BatchOutputItem, type BatchpipeError, BatchRunner } from "../src/index.js";

let emulator: Awaited<ReturnType<typeof startEmulator>>;
beforeAll(async () => {
  emulator = await startEmulator({ timeScale: 3600 });
});
afterAll(async () => {
  await emulator?.close();
});

describe("onEvent throws", () => {
  it("rejects with PLUGIN_FAILED naming onEvent and the event; the next run resumes", async () => {
    const dir = tempDir();
    const delivered: string[] = [];
    class Runner extends BatchRunner {
      static override workConfig = {
        name: "onevent-throws",
        model: "gpt-4o-mini",
        provider: { use: "openai" as const, base_url: emulator.url, api_key: "sk-test" },
        batch: { poll_interval: "50ms", max_requests: 10 },
      };
      static override async *upload(): AsyncIterable<BatchInputItem> {
        for (let i = 0; i < 30; i++) yield { id: `e${i}`, messages: [{ role: "user", content: `m${i}` }] };
      }
      static override async download(items: AsyncIterable<BatchOutputItem>) {
        for await (const item of items) delivered.push(item.id);
      }
    }
    const error = (await Runner.run({
      dir,
      builtins: officialPlugins,
      onEvent: (event) => {
        if (event.type === "shard_submitted") throw new Error("the socket is closed");
      },
    }).catch((e) => e)) as BatchpipeError;
    expect({
      name: error.name,
      code: error.code,
      message: error.message,
      hint: error.hint,
    }).toMatchInlineSnapshot(`
      {
        "code": "PLUGIN_FAILED",
        "hint": "The run stopped there with its state saved: fix the callback and run again to resume it.",
        "message": "onEvent threw on a "shard_submitted" event: the socket is closed",
        "name": "BatchpipeError",
      }
    `);
    expect((error.cause as Error).message).toBe("the socket is closed");
    const result = await Runner.run({ dir, builtins: officialPlugins });
    expect(result.report).toMatchObject({ read: 30, succeeded: 30, failed: 0 });
    expect([...delivered].sort()).toEqual(Array.from({ length: 30 }, (_, i) => `e${i}`).sort());
    // three shards, each submitted once
    const batches = emulator.state().batches;
    expect(batches).toHaveLength(3);
    expect(new Set(batches.map((b) => b.input_sha256)).size).toBe(3);
  });
});
