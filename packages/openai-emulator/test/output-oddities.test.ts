// The test-only output oddities (LineRule.oddity) and a vanished batch (a 404 fault on poll):
// what batchpipe's reconciliation tests rely on the emulator to produce.
import { afterEach, describe, expect, it } from "vitest";
import { chatLine, type Harness, startHarness, submit, waitForBatch } from "./helpers.js";

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe("output oddities", () => {
  it("omit, malformed and unknown_id change only their own line; attempts limits them", async () => {
    h = await startHarness({
      timeScale: 1000,
      shuffleOutput: false,
      lineRules: [
        { customIds: ["a"], oddity: "omit", attempts: 1 },
        { customIds: ["b"], oddity: "malformed", attempts: 1 },
        { customIds: ["c"], oddity: "unknown_id", attempts: 1 },
      ],
    });
    const lines = ["a", "b", "c", "d"].map((id) => chatLine(id, `hi ${id}`));
    const created = await submit(h, lines);
    const { batch } = await waitForBatch(h.client, created.id);
    expect(batch.status).toBe("completed");
    expect(batch.request_counts).toMatchObject({ total: 4, completed: 4, failed: 0 });
    expect(batch.error_file_id).toBeNull();
    const text = await (await h.client.files.content(batch.output_file_id!)).text();
    const out = text.split("\n").filter((l) => l !== "");
    expect(out).toHaveLength(3); // a is omitted
    expect(() => JSON.parse(out[0]!)).toThrow(); // b: cut off
    expect(out[0]).toContain('"custom_id":"b"');
    expect(JSON.parse(out[1]!)).toMatchObject({ custom_id: "unknown-c", response: { status_code: 200 } });
    expect(JSON.parse(out[2]!)).toMatchObject({ custom_id: "d", response: { status_code: 200 } });

    // second executions are normal
    const again = await waitForBatch(h.client, (await submit(h, lines.slice(0, 3))).id);
    const second = (await (await h.client.files.content(again.batch.output_file_id!)).text())
      .split("\n")
      .filter((l) => l !== "")
      .map((l) => JSON.parse(l).custom_id);
    expect(second).toEqual(["a", "b", "c"]);
  });

  it("a 404 fault on GET /v1/batches/:id looks like a batch that disappeared", async () => {
    h = await startHarness({
      timeScale: 1000,
      faults: [{ route: "GET /v1/batches/:id", status: 404, calls: [1] }],
    });
    const created = await submit(h, [chatLine("x", "hi")]);
    await expect(h.client.batches.retrieve(created.id)).rejects.toMatchObject({ status: 404 });
    const { batch } = await waitForBatch(h.client, created.id);
    expect(batch.status).toBe("completed");
  });
});
