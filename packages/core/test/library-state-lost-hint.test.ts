// An app whose state folder was lost (a container's disk wiped, .batchpipe deleted) meets its
// batches without their state: the refusal must say what to do from code, not only CLI flags.
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { officialPlugins, startEmulator, tempDir } from "../../batchpipe/test/support/harness.js";
import { type BatchOutputItem, type BatchpipeError, BatchRunner } from "../src/index.js";

let emulator: Awaited<ReturnType<typeof startEmulator>>;
beforeAll(async () => {
  emulator = await startEmulator({ timeScale: 3600 });
});
afterAll(async () => {
  await emulator?.close();
});

it("STATE_LOST from run(): the hint names the options of the programmatic API", async () => {
  class Runner extends BatchRunner {
    static override workConfig = {
      name: "moved",
      model: "gpt-4o-mini",
      provider: { use: "openai" as const, base_url: emulator.url, api_key: "sk-test" },
      batch: { poll_interval: "50ms" },
    };
    static override *upload() {
      yield { id: "1", messages: [{ role: "user", content: "hi" }] };
    }
    static override async download(items: AsyncIterable<BatchOutputItem>) {
      for await (const _ of items);
    }
  }
  // interrupted once its batch exists, then its state is lost
  const dir = tempDir();
  const controller = new AbortController();
  await Runner.run({
    dir,
    builtins: officialPlugins,
    signal: controller.signal,
    onEvent: (e) => {
      if (e.type === "shard_submitted") controller.abort();
    },
  }).catch(() => undefined);
  fs.rmSync(path.join(dir, ".batchpipe"), { recursive: true });
  const error = (await Runner.run({ dir, builtins: officialPlugins }).catch((e) => e)) as BatchpipeError;
  expect(error.code).toBe("STATE_LOST");
  expect(error.hint).toMatchInlineSnapshot(
    `"Restore the state folder (state.db) from a backup or point --state-dir at it (from code: the stateDir option, workConfig.state_dir); or, to submit everything again anyway, add --force (from code: force: true), or rename the pipeline."`,
  );
});
