// A BatchRunner whose upload() threw mid-read resumes by calling upload() again from its first item:
// the items read before are skipped only when they are the same ones, so none is lost or sent twice.
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

const ids = (n: number) => Array.from({ length: n }, (_, i) => `r${i}`);

/** a runner over 30 items; `feed` says the order of the next upload() and where it throws */
function makeRunner(name: string, feed: { order: string[]; throwAt?: number }) {
  const delivered: string[] = [];
  let yielded = 0;
  class Runner extends BatchRunner {
    static override workConfig = {
      name,
      model: "gpt-4o-mini",
      provider: { use: "openai" as const, base_url: emulator.url, api_key: "sk-test" },
      batch: { poll_interval: "50ms", max_requests: 10 },
    };
    static override async *upload(): AsyncIterable<BatchInputItem> {
      for (const [i, id] of feed.order.entries()) {
        if (i === feed.throwAt) throw new Error("the database went away");
        yielded++;
        yield { id, messages: [{ role: "user", content: `about ${id}` }] };
      }
    }
    static override async download(items: AsyncIterable<BatchOutputItem>) {
      for await (const item of items) delivered.push(item.id);
    }
  }
  return { Runner, delivered, yielded: () => yielded };
}

describe("BatchRunner: resuming after upload() threw", () => {
  it("upload() yields the same items again: each is delivered once and upload() runs once more", async () => {
    const dir = tempDir();
    const feed: { order: string[]; throwAt?: number } = { order: ids(30), throwAt: 15 };
    const { Runner, delivered, yielded } = makeRunner("same-order", feed);
    const error = (await Runner.run({ dir, builtins: officialPlugins }).catch((e) => e)) as BatchpipeError;
    expect(error.code).toBe("PLUGIN_FAILED");
    feed.throwAt = undefined;
    const before = yielded();
    const warnings: string[] = [];
    const result = await Runner.run({
      dir,
      builtins: officialPlugins,
      onEvent: (e) => {
        if (e.type === "warning") warnings.push(e.message);
      },
    });
    expect(result.report).toMatchObject({ read: 30, succeeded: 30, failed: 0 });
    expect([...delivered].sort()).toEqual(ids(30).sort());
    // one call of upload(), from its first item
    expect(yielded() - before).toBe(30);
    expect(warnings).toMatchInlineSnapshot(`[]`);
  });

  it("upload() yields the items in another order: refused, not skipped by count (which lost 11 items)", async () => {
    const dir = tempDir();
    const feed: { order: string[]; throwAt?: number } = { order: ids(30), throwAt: 15 };
    const { Runner, delivered } = makeRunner("other-order", feed);
    await Runner.run({ dir, builtins: officialPlugins }).catch(() => undefined);
    // an unordered query gives the rows in another order the second time
    feed.order = ids(30).reverse();
    feed.throwAt = undefined;
    const outcome = await Runner.run({ dir, builtins: officialPlugins }).then(
      (r) => ({
        succeeded: r.report.succeeded,
        failed: r.report.failedByCode,
        delivered: new Set(delivered).size,
      }),
      (e: BatchpipeError) => ({ code: e.code, message: e.message, hint: e.hint }),
    );
    expect(outcome).toMatchInlineSnapshot(`
      {
        "code": "SOURCE_FAILED",
        "hint": "Make upload() yield the same items in the same order as before (sort the query, e.g. ORDER BY id), then run again. 1 shard (10 requests) read before it was already submitted and goes on at the provider, so the run's state is kept and the next run continues it.",
        "message": "Runner.upload() was called again to resume the read, but its first 11 items are not the ones read before the interruption (their ids differ or come in another order): they cannot be skipped without losing or repeating items",
      }
    `);
  });

  it("upload() yields fewer items than were read: refused", async () => {
    const dir = tempDir();
    const feed: { order: string[]; throwAt?: number } = { order: ids(30), throwAt: 15 };
    const { Runner } = makeRunner("fewer", feed);
    await Runner.run({ dir, builtins: officialPlugins }).catch(() => undefined);
    feed.order = ids(5);
    feed.throwAt = undefined;
    const error = (await Runner.run({ dir, builtins: officialPlugins }).catch((e) => e)) as BatchpipeError;
    expect(error.message).toMatchInlineSnapshot(
      `"Runner.upload() was called again to resume the read, but it yielded 5 items, fewer than the 11 read before the interruption: they cannot be skipped without losing or repeating items"`,
    );
  });
});
