// Two run() calls of one pipeline at once in one process (a server handling two requests): the
// second is refused, and the refusal says the first run is in this process, not "another process".
import { afterAll, beforeAll, expect, it } from "vitest";
import { officialPlugins, startEmulator, tempDir } from "../../batchpipe/test/support/harness.js";
import { type BatchInputItem, type BatchOutputItem, type BatchpipeError, BatchRunner } from "../src/index.js";

let emulator: Awaited<ReturnType<typeof startEmulator>>;
beforeAll(async () => {
  emulator = await startEmulator({ timeScale: 3600 });
});
afterAll(async () => {
  await emulator?.close();
});

it("a second run() of the same pipeline in this process is refused as this process's", async () => {
  const dir = tempDir();
  const delivered: string[] = [];
  class Runner extends BatchRunner {
    static override workConfig = {
      name: "twice-at-once",
      model: "gpt-4o-mini",
      provider: { use: "openai" as const, base_url: emulator.url, api_key: "sk-test" },
      batch: { poll_interval: "50ms", max_requests: 10 },
    };
    static override async *upload(): AsyncIterable<BatchInputItem> {
      for (let i = 0; i < 20; i++) yield { id: `t${i}`, messages: [{ role: "user", content: `m${i}` }] };
    }
    static override async download(items: AsyncIterable<BatchOutputItem>) {
      for await (const item of items) delivered.push(item.id);
    }
  }
  const [first, second] = await Promise.allSettled([
    Runner.run({ dir, builtins: officialPlugins }),
    Runner.run({ dir, builtins: officialPlugins }),
  ]);
  expect(first.status).toBe("fulfilled");
  const error = (second as PromiseRejectedResult).reason as BatchpipeError;
  expect({
    code: error.code,
    message: error.message.replace(dir, "<dir>").replace(String(process.pid), "<pid>"),
    hint: error.hint,
  }).toMatchInlineSnapshot(`
    {
      "code": "STATE_FAILED",
      "hint": "Await the earlier run before starting another of the same pipeline, or give this one its own state folder (workConfig.state_dir, the stateDir option).",
      "message": "this process is already running this pipeline (<dir>/.batchpipe/twice-at-once): an earlier run of it (run(), runSpec(), watch) has not ended",
    }
  `);
  expect(delivered).toHaveLength(20);
});
