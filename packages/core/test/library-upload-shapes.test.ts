// What upload() may be: a generator (sync or async), a function returning an array or iterable,
// or an async function returning one; anything else is refused saying what it returned.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { officialPlugins, startEmulator, tempDir } from "../../batchpipe/test/support/harness.js";
import { type BatchOutputItem, type BatchpipeError, BatchRunner } from "../src/index.js";

let emulator: Awaited<ReturnType<typeof startEmulator>>;
beforeAll(async () => {
  emulator = await startEmulator({ timeScale: 3600 });
});
afterAll(async () => {
  await emulator?.close();
});

const rows = [1, 2, 3].map((i) => ({ id: i, messages: [{ role: "user", content: `m${i}` }] }));

function runner(name: string, upload: () => unknown) {
  class Runner extends BatchRunner {
    static override workConfig = {
      name,
      model: "gpt-4o-mini",
      provider: { use: "openai" as const, base_url: emulator.url, api_key: "sk-test" },
      batch: { poll_interval: "50ms" },
    };
    static override async download(items: AsyncIterable<BatchOutputItem>) {
      for await (const _ of items);
    }
  }
  (Runner as unknown as { upload: () => unknown }).upload = upload;
  return Runner.run({ dir: tempDir(), builtins: officialPlugins }).then(
    (r) => `${r.status}: ${r.report.succeeded} succeeded`,
    (e: BatchpipeError) => `${e.code}: ${e.message} | ${e.hint}`,
  );
}

describe("upload() shapes", () => {
  it("an async function returning an array of items runs them", async () => {
    expect(await runner("async-array", async () => rows)).toMatchInlineSnapshot(`"completed: 3 succeeded"`);
  });

  it("a function returning null is refused, naming the class's upload()", async () => {
    expect(await runner("returns-null", () => null)).toMatchInlineSnapshot(
      `"PLUGIN_FAILED: Runner.upload() returned null, not items | Write upload() as a generator (\`static async *upload() { yield { id, messages } }\`), or return an array of items. Nothing was submitted, the read starts over."`,
    );
  });

  it("an upload() that throws stops the run naming the class's upload()", async () => {
    const thrown = await runner("throws", async function* () {
      yield rows[0];
      throw new Error("the database went away");
    });
    expect(thrown).toMatchInlineSnapshot(
      `"PLUGIN_FAILED: Runner.upload() threw: the database went away | Fix upload() and run again. Nothing was submitted, the read starts over."`,
    );
  });
});
