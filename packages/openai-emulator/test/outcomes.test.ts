import { afterEach, describe, expect, it } from "vitest";
import { createEmulator } from "../src/index.js";
import { chatLine, type Harness, readLinesOf, startHarness, submit, waitForBatch } from "./helpers.js";

let h: Harness;
afterEach(async () => h?.close());

const lines = (n: number) => Array.from({ length: n }, (_, i) => chatLine(`r-${i}`, `text ${i}`));

describe("results: output and error files", () => {
  it("shuffles output order (seeded, deterministic) and keeps input order when disabled", async () => {
    h = await startHarness({ seed: 42 });
    const { batch } = await waitForBatch(h.client, (await submit(h, lines(200))).id);
    const order = (await readLinesOf(h.client, batch.output_file_id)).map((l) => l.custom_id);
    expect(order).toHaveLength(200);
    expect(new Set(order).size).toBe(200);
    expect(order).not.toEqual(lines(200).map((l) => l.custom_id));
    await h.close();

    h = await startHarness({ seed: 42 });
    const { batch: same } = await waitForBatch(h.client, (await submit(h, lines(200))).id);
    expect((await readLinesOf(h.client, same.output_file_id)).map((l) => l.custom_id)).toEqual(order);
    await h.close();

    h = await startHarness({ shuffleOutput: false });
    const { batch: plain } = await waitForBatch(h.client, (await submit(h, lines(200))).id);
    expect((await readLinesOf(h.client, plain.output_file_id)).map((l) => l.custom_id)).toEqual(
      lines(200).map((l) => l.custom_id),
    );
  });

  it("routes 4xx/5xx and timeouts to the error file with the real shapes, counting them as failed", async () => {
    h = await startHarness({
      lineRules: [
        { customIds: ["r-1"], error: "context_length_exceeded" },
        { customIds: ["r-2"], error: "model_not_found" },
        { customIds: ["r-3"], error: "rate_limit_exceeded" },
        { customIds: ["r-4"], error: "server_error" },
        { customIdPattern: "^r-5$", error: "request_timeout" },
        { customIds: ["r-6"], error: "content_policy_violation", status: 400 },
      ],
    });
    const { batch } = await waitForBatch(h.client, (await submit(h, lines(10))).id);
    expect(batch.status).toBe("completed");
    expect(batch.request_counts).toEqual({ total: 10, completed: 4, failed: 6 });
    const out = await readLinesOf(h.client, batch.output_file_id);
    expect(out.map((l) => l.custom_id).sort()).toEqual(["r-0", "r-7", "r-8", "r-9"]);
    const errors = Object.fromEntries(
      (await readLinesOf(h.client, batch.error_file_id)).map((l) => [l.custom_id, l]),
    );
    expect(errors["r-1"]).toMatchObject({
      id: expect.stringMatching(/^batch_req_/),
      error: null,
      response: {
        status_code: 400,
        request_id: expect.any(String),
        body: {
          error: { type: "invalid_request_error", param: "messages", code: "context_length_exceeded" },
        },
      },
    });
    expect(errors["r-1"]?.response?.body.error.message).toContain("maximum context length");
    expect(errors["r-2"]?.response).toMatchObject({
      status_code: 404,
      body: { error: { code: "model_not_found" } },
    });
    expect(errors["r-3"]?.response).toMatchObject({
      status_code: 429,
      body: { error: { code: "rate_limit_exceeded" } },
    });
    expect(errors["r-4"]?.response).toMatchObject({
      status_code: 500,
      body: { error: { type: "server_error" } },
    });
    expect(errors["r-4"]?.response?.body.error.message).toMatch(
      /^An error occurred while processing your request/,
    );
    expect(errors["r-5"]).toMatchObject({ response: null, error: { code: "request_timeout" } });
    expect(errors["r-6"]?.response).toMatchObject({
      status_code: 400,
      body: { error: { code: "content_policy_violation" } },
    });
  });

  it("an all-failed batch is completed with output_file_id null", async () => {
    h = await startHarness({ lineRules: [{ error: "server_error" }] });
    const { batch } = await waitForBatch(h.client, (await submit(h, lines(5))).id);
    expect(batch.status).toBe("completed");
    expect(batch.output_file_id).toBeNull();
    expect(batch.error_file_id).toMatch(/^file-/);
    expect(batch.request_counts).toEqual({ total: 5, completed: 0, failed: 5 });
    expect(batch.usage?.total_tokens).toBe(0);
    expect(await readLinesOf(h.client, batch.error_file_id)).toHaveLength(5);
  });

  it("fails a custom_id only for its first K attempts, so a retry succeeds; rates are seeded", async () => {
    h = await startHarness({
      lineRules: [
        { customIds: ["r-0"], error: "server_error", attempts: 1 },
        { customIdPattern: "^r-1\\d$", rate: 0.5, error: "rate_limit_exceeded" },
      ],
    });
    const { batch: first } = await waitForBatch(h.client, (await submit(h, lines(20))).id);
    const failedFirst = (await readLinesOf(h.client, first.error_file_id)).map((l) => l.custom_id).sort();
    expect(failedFirst).toContain("r-0");
    const rated = failedFirst.filter((id) => id !== "r-0");
    expect(rated.length).toBeGreaterThan(0);
    expect(rated.length).toBeLessThan(10);
    expect(rated.every((id) => /^r-1\d$/.test(id))).toBe(true);

    const { batch: retry } = await waitForBatch(h.client, (await submit(h, [chatLine("r-0", "again")])).id);
    expect(retry.request_counts).toEqual({ total: 1, completed: 1, failed: 0 });
    expect(retry.error_file_id).toBeNull();
  });

  it("test-only oddities: omitted, malformed and unknown-id output lines", async () => {
    h = await startHarness({
      shuffleOutput: false,
      lineRules: [
        { customIds: ["r-0"], oddity: "omit" },
        { customIds: ["r-1"], oddity: "malformed" },
        { customIds: ["r-2"], oddity: "unknown_id" },
      ],
    });
    const { batch } = await waitForBatch(h.client, (await submit(h, lines(4))).id);
    expect(batch.request_counts).toEqual({ total: 4, completed: 4, failed: 0 });
    expect(batch.error_file_id).toBeNull();
    const text = await (await h.client.files.content(batch.output_file_id!)).text();
    const rows = text.trimEnd().split("\n");
    expect(rows).toHaveLength(3);
    expect(() => JSON.parse(rows[0]!)).toThrow();
    expect(rows[0]).toContain('"custom_id":"r-1"');
    expect(JSON.parse(rows[1]!).custom_id).toBe("unknown-r-2");
    expect(JSON.parse(rows[2]!).custom_id).toBe("r-3");
  });

  it("lineRules can be changed at run time", async () => {
    const emu = await createEmulator();
    try {
      emu.configure({ lineRules: [{ error: "model_not_found" }] });
      expect(emu.options.lineRules).toHaveLength(1);
      emu.configure({ lineRules: [] });
      expect(emu.options.lineRules).toHaveLength(0);
    } finally {
      await emu.close();
    }
  });
});
