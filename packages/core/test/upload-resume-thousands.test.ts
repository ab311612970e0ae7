// A resumed upload() that yields other items than its checkpoint covers is refused with the counts
// grouped as the rest of batchpipe's messages: "its first 2,001 items", "it yielded 1,200 items",
// not "2001" and "1200". A BatchRunner against the emulator over HTTP.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { officialPlugins, startEmulator, tempDir } from "../../batchpipe/test/support/harness.js";
import { type BatchInputItem, type BatchpipeError, BatchRunner } from "../src/index.js";

let emulator: Awaited<ReturnType<typeof startEmulator>>;
beforeAll(async () => {
  emulator = await startEmulator({ timeScale: 3600 });
});
afterAll(async () => {
  await emulator?.close();
});

const ids = (n: number) => Array.from({ length: n }, (_, i) => `r${i}`);

/** a runner whose upload() yields `feed.order` and throws at `feed.throwAt` */
function makeRunner(name: string, feed: { order: string[]; throwAt?: number | undefined }) {
  return class Runner extends BatchRunner {
    static override workConfig = {
      name,
      model: "gpt-4o-mini",
      provider: { use: "openai" as const, base_url: emulator.url, api_key: "sk-test" },
      batch: { poll_interval: "50ms", max_requests: 1000 },
    };
    static override async *upload(): AsyncIterable<BatchInputItem> {
      for (const [i, id] of feed.order.entries()) {
        if (i === feed.throwAt) throw new Error("the database went away");
        yield { id, messages: [{ role: "user", content: `about ${id}` }] };
      }
    }
    static override async download() {}
  };
}

async function resumed(name: string, order: string[]): Promise<string> {
  const dir = tempDir();
  const feed: { order: string[]; throwAt?: number | undefined } = { order: ids(3000), throwAt: 2500 };
  const Runner = makeRunner(name, feed);
  await Runner.run({ dir, builtins: officialPlugins }).catch(() => undefined);
  feed.order = order;
  feed.throwAt = undefined;
  const error = (await Runner.run({ dir, builtins: officialPlugins }).catch((e) => e)) as BatchpipeError;
  return error.message;
}

describe("a resumed upload() with other items, over 999 of them", () => {
  it("in another order", async () => {
    expect(await resumed("reversed", ids(3000).reverse())).toMatch(
      /but its first \d,\d{3} items are not the ones read before the interruption/,
    );
  });

  it("fewer", async () => {
    expect(await resumed("fewer", ids(1200))).toMatch(
      /but it yielded 1,200 items, fewer than the \d,\d{3} read before the interruption/,
    );
  });
});
