// Runner.run({ signal }) with a signal that is already aborted (a request cancelled before its job
// started, AbortSignal.timeout that fired while waiting): nothing is submitted, the call rejects.
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

describe("BatchRunner.run with an aborted signal", () => {
  it("rejects with INTERRUPTED and submits nothing", async () => {
    const delivered: string[] = [];
    class Runner extends BatchRunner {
      static override workConfig = {
        name: "aborted-before",
        model: "gpt-4o-mini",
        provider: { use: "openai" as const, base_url: emulator.url, api_key: "sk-test" },
        batch: { poll_interval: "50ms", max_requests: 5 },
      };
      static override async *upload(): AsyncIterable<BatchInputItem> {
        for (let i = 0; i < 20; i++) yield { id: `a${i}`, messages: [{ role: "user", content: `m${i}` }] };
      }
      static override async download(items: AsyncIterable<BatchOutputItem>) {
        for await (const item of items) delivered.push(item.id);
      }
    }
    const outcome = await Runner.run({
      dir: tempDir(),
      builtins: officialPlugins,
      signal: AbortSignal.abort(),
    }).then(
      (r) => ({ resolved: r.status, succeeded: r.report.succeeded }),
      (e: BatchpipeError) => ({ code: e.code, message: e.message }),
    );
    expect(outcome).toMatchInlineSnapshot(`
      {
        "code": "INTERRUPTED",
        "message": "interrupted; the state is saved",
      }
    `);
    expect(emulator.state().batches).toHaveLength(0);
    expect(delivered).toEqual([]);
  });
});
