import { afterEach, describe, expect, it } from "vitest";
import { estimateRequestTokens } from "../src/index.js";
import { chatLine, type Harness, startHarness, submit, waitForBatch } from "./helpers.js";

let h: Harness;
afterEach(async () => h?.close());

const lines = (prefix: string, n: number) =>
  Array.from({ length: n }, (_, i) => chatLine(`${prefix}-${i}`, "hello"));
const TOKENS_PER_LINE = estimateRequestTokens("/v1/chat/completions", chatLine("x", "hello").body);

describe("enqueued-token queue", () => {
  it("fails the second of two batches that together exceed the queue; resubmitted after the first completes it succeeds", async () => {
    expect(TOKENS_PER_LINE).toBe(3 + 4 + 2); // ceil(5/4) + per-message + per-request
    h = await startHarness({ queueLimits: { "gpt-4o-mini": 1500 }, latencies: { linesPerSecond: 50 } });
    const first = await submit(h, lines("a", 100));
    await waitForBatch(h.client, first.id, { until: (b) => b.status === "in_progress" });
    expect(h.emu.state().queues["gpt-4o-mini"]).toEqual({
      enqueued_tokens: 900,
      limit: 1500,
      enqueued_requests: 0,
    });

    const second = await submit(h, lines("b", 100));
    const { batch: refused } = await waitForBatch(h.client, second.id);
    expect(refused.status).toBe("failed");
    expect(refused.errors?.data).toEqual([
      {
        code: "token_limit_exceeded",
        line: null,
        param: null,
        message:
          "Enqueued token limit reached for gpt-4o-mini in organization org-emulator. Limit: 1,500 enqueued tokens. Please try again once some in_progress batches have been completed.",
      },
    ]);
    expect(h.emu.state().counters.token_limit_exceeded).toBe(1);
    expect((await h.client.batches.retrieve(first.id)).status).toBe("in_progress");

    const { batch: done } = await waitForBatch(h.client, first.id);
    expect(done.status).toBe("completed");
    expect(h.emu.state().queues["gpt-4o-mini"]?.enqueued_tokens).toBe(0);

    const again = await h.client.batches.create({
      input_file_id: second.input_file_id,
      endpoint: "/v1/chat/completions",
      completion_window: "24h",
    });
    const { batch: retried } = await waitForBatch(h.client, again.id);
    expect(retried.status).toBe("completed");
    expect(retried.request_counts?.completed).toBe(100);
    const state = h.emu.state();
    expect(state.batches.map((b) => [b.status, b.estimated_tokens])).toEqual([
      ["completed", 900],
      ["failed", 900],
      ["completed", 900],
    ]);
  });

  it("limits are per model: another model is not affected", async () => {
    h = await startHarness({ queueLimits: { "gpt-4o-mini": 100 } });
    const other = await submit(
      h,
      Array.from({ length: 50 }, (_, i) => chatLine(`o-${i}`, "hello", "gpt-4o")),
    );
    expect((await waitForBatch(h.client, other.id)).batch.status).toBe("completed");
    const over = await submit(h, lines("m", 50));
    expect((await waitForBatch(h.client, over.id)).batch.errors?.data[0]?.code).toBe("token_limit_exceeded");
  });

  it("capacity comes back only after queueReleaseLag", async () => {
    h = await startHarness({ queueLimits: { "gpt-4o-mini": 1000 }, latencies: { queueReleaseLag: 1 } });
    const first = await submit(h, lines("a", 100));
    await waitForBatch(h.client, first.id);
    expect(h.emu.state().queues["gpt-4o-mini"]?.enqueued_tokens).toBe(900);
    const early = await submit(h, lines("b", 100));
    expect((await waitForBatch(h.client, early.id)).batch.status).toBe("failed");
    await new Promise((r) => setTimeout(r, 1100));
    expect(h.emu.state().queues["gpt-4o-mini"]?.enqueued_tokens).toBe(0);
  });

  it("fail-fast mode refuses at create with 400 token_limit_exceeded", async () => {
    h = await startHarness({
      queueLimits: { "gpt-4o-mini": 1500 },
      failFastTokenLimit: true,
      latencies: { linesPerSecond: 50 },
    });
    const first = await submit(h, lines("a", 100));
    await waitForBatch(h.client, first.id, { until: (b) => b.status === "in_progress" });
    const error = await submit(h, lines("b", 100)).catch((e) => e);
    expect(error).toMatchObject({ status: 400, code: "token_limit_exceeded", type: "invalid_request_error" });
    expect(error.error.message).toContain("Limit: 1,500 enqueued tokens");
    expect(h.emu.state().batches).toHaveLength(1);
    await h.client.batches.cancel(first.id);
  });

  it("caps enqueued embedding requests", async () => {
    h = await startHarness({ maxEnqueuedEmbeddingRequests: 3 });
    const emb = (id: string) => ({
      custom_id: id,
      method: "POST",
      url: "/v1/embeddings",
      body: { model: "text-embedding-3-small", input: "x" },
    });
    const created = await submit(h, [emb("1"), emb("2"), emb("3"), emb("4")], "/v1/embeddings");
    const { batch } = await waitForBatch(h.client, created.id);
    expect(batch.errors?.data[0]).toMatchObject({
      code: "request_limit_exceeded",
      message: expect.stringContaining("Limit: 3 enqueued requests"),
    });
  });
});
