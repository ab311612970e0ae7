import { afterEach, describe, expect, it } from "vitest";
import { chatLine, type Harness, readLinesOf, startHarness, submit, waitForBatch } from "./helpers.js";

let h: Harness;
afterEach(async () => h?.close());

// A request line of megabytes was searched for its end again with every 256 KB read, twice (at
// validation and when run): a 21 MB line took ~20 s, so at the quickstart's timeScale (3600: the
// 24 h window lasts 24 s) a batch holding one expired, and every request of it failed as
// batch_expired. Reading is now linear in the line's length.
describe("a batch with a line of megabytes", () => {
  it("runs to completed at timeScale 3600, its lines read whole and in order", async () => {
    h = await startHarness({ timeScale: 3600 });
    const long = 'he said "hi"\n'.repeat(1_400_000); // ~18 MB once escaped in the line
    const created = await submit(h, [
      chatLine("before", "short"),
      chatLine("long", long, "gpt-4o-mini", { max_tokens: 5 }),
      chatLine("after", "é😀 after"),
    ]);
    const { batch } = await waitForBatch(h.client, created.id, { timeoutMs: 120_000 });
    expect(batch.status).toBe("completed");
    expect(batch.request_counts).toEqual({ total: 3, completed: 3, failed: 0 });
    const lines = await readLinesOf(h.client, batch.output_file_id);
    const content = Object.fromEntries(
      lines.map((l) => [l.custom_id, l.response?.body.choices[0].message.content as string]),
    );
    expect(content).toEqual({ before: "short", long: long.slice(0, 20), after: "é😀 after" });
    // 3 a request and 4 a message, then a token per 4 characters: 9 ("short"), 10 (9 UTF-16 units), the long one
    expect(batch.usage?.input_tokens).toBe(9 + 10 + 7 + Math.ceil(long.length / 4));
  }, 150_000);
});
