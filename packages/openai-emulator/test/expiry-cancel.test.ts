import { afterEach, describe, expect, it } from "vitest";
import { chatLine, type Harness, readLinesOf, startHarness, submit, waitForBatch } from "./helpers.js";

let h: Harness;
afterEach(async () => h?.close());

const lines = (n: number) => Array.from({ length: n }, (_, i) => chatLine(`r-${i}`, `text ${i}`));

describe("expiry", () => {
  it("expires at expires_at on the virtual clock with partial output and batch_expired lines", async () => {
    // 24 h pass in 2.4 s; one line per 1000 virtual seconds → about 86 lines fit in the window
    h = await startHarness({ timeScale: 36_000, latencies: { linesPerSecond: 0.001, validation: 1 } });
    const created = await submit(h, lines(200));
    const { batch, statuses } = await waitForBatch(h.client, created.id, { timeoutMs: 20_000 });
    expect(statuses.at(-1)).toBe("expired");
    expect(statuses).not.toContain("finalizing");
    expect(batch.expired_at).toBeGreaterThanOrEqual(batch.expires_at!);
    expect(batch.completed_at).toBeNull();
    const done = batch.request_counts!.completed;
    expect(done).toBeGreaterThan(10);
    expect(done).toBeLessThan(200);
    expect(batch.request_counts).toEqual({ total: 200, completed: done, failed: 200 - done });
    const out = await readLinesOf(h.client, batch.output_file_id);
    const errors = await readLinesOf(h.client, batch.error_file_id);
    expect(out).toHaveLength(done);
    expect(errors).toHaveLength(200 - done);
    expect(errors[0]).toMatchObject({
      id: expect.stringMatching(/^batch_req_/),
      response: null,
      error: {
        code: "batch_expired",
        message: "This request could not be executed before the completion window expired.",
      },
    });
    const all = new Set([...out, ...errors].map((l) => l.custom_id));
    expect(all.size).toBe(200);
  });

  it("expireAfterLines: processes N lines, then expires", async () => {
    h = await startHarness({ expireAfterLines: 7 });
    const { batch } = await waitForBatch(h.client, (await submit(h, lines(20))).id);
    expect(batch.status).toBe("expired");
    expect(batch.request_counts).toEqual({ total: 20, completed: 7, failed: 13 });
    expect(await readLinesOf(h.client, batch.output_file_id)).toHaveLength(7);
    const errors = await readLinesOf(h.client, batch.error_file_id);
    expect(errors.every((l) => l.error?.code === "batch_expired" && l.response === null)).toBe(true);
  });
});

describe("cancellation", () => {
  it("cancelling → cancelled with partial output and batch_cancelled lines", async () => {
    h = await startHarness({ latencies: { linesPerSecond: 200, cancelDrain: 0.3 } });
    const created = await submit(h, lines(1000));
    await waitForBatch(h.client, created.id, { until: (b) => (b.request_counts?.completed ?? 0) >= 20 });
    const cancelling = await h.client.batches.cancel(created.id);
    expect(cancelling.status).toBe("cancelling");
    expect(cancelling.cancelling_at).toBeGreaterThanOrEqual(cancelling.created_at);
    const { batch, statuses } = await waitForBatch(h.client, created.id);
    expect(statuses).toEqual(["cancelling", "cancelled"]);
    expect(batch.cancelled_at).toBeGreaterThanOrEqual(batch.cancelling_at!);
    const done = batch.request_counts!.completed;
    expect(done).toBeGreaterThanOrEqual(20);
    expect(done).toBeLessThan(1000);
    expect(await readLinesOf(h.client, batch.output_file_id)).toHaveLength(done);
    const errors = await readLinesOf(h.client, batch.error_file_id);
    expect(errors).toHaveLength(1000 - done);
    expect(errors[0]).toMatchObject({ response: null, error: { code: "batch_cancelled" } });
    // idempotent on cancelled
    const again = await h.client.batches.cancel(created.id);
    expect(again.status).toBe("cancelled");
  });

  it("while cancelling, request_counts.failed counts only requests that ran and failed; once cancelled, the rest too", async () => {
    // OpenAI's reference example of a cancelling batch: total 100, completed 23, failed 1
    h = await startHarness({
      latencies: { linesPerSecond: 200, cancelDrain: 1 },
      lineRules: [{ customIds: ["r-1", "r-3"], error: "server_error" }],
    });
    const created = await submit(h, lines(1000));
    await waitForBatch(h.client, created.id, { until: (b) => (b.request_counts?.completed ?? 0) >= 20 });
    await h.client.batches.cancel(created.id);
    const seen: { total: number; completed: number; failed: number }[] = [];
    const { batch } = await waitForBatch(h.client, created.id, {
      until: (b) => {
        if (b.status === "cancelling") seen.push(b.request_counts!);
        return b.status === "cancelled";
      },
    });
    expect(seen.length).toBeGreaterThan(1);
    for (const counts of seen)
      expect(counts).toEqual({ total: 1000, completed: counts.completed, failed: 2 });
    const done = batch.request_counts!.completed;
    expect(batch.request_counts).toEqual({ total: 1000, completed: done, failed: 1000 - done });
    expect(await readLinesOf(h.client, batch.error_file_id)).toHaveLength(1000 - done);
  });

  it("cancelling while validating ends cancelled with a batch_cancelled line for every request", async () => {
    h = await startHarness({ latencies: { validation: 0.5 } });
    const created = await submit(h, lines(10));
    await h.client.batches.cancel(created.id);
    const { batch } = await waitForBatch(h.client, created.id);
    expect(batch.status).toBe("cancelled");
    expect(batch.in_progress_at).toBeNull();
    expect(batch.request_counts).toEqual({ total: 10, completed: 0, failed: 10 });
    expect(batch.output_file_id).toBeNull();
    const errors = await readLinesOf(h.client, batch.error_file_id);
    expect(errors.map((l) => l.custom_id).sort()).toEqual(
      lines(10)
        .map((_, i) => `r-${i}`)
        .sort(),
    );
    for (const line of errors) {
      expect(line).toEqual({
        id: expect.stringMatching(/^batch_req_/),
        custom_id: line.custom_id,
        response: null,
        error: {
          code: "batch_cancelled",
          message: "This request was cancelled before it could be executed.",
        },
      });
    }
  });

  it("409 on a completed or failed batch, 404 on an unknown id", async () => {
    h = await startHarness();
    const { batch } = await waitForBatch(h.client, (await submit(h, lines(3))).id);
    expect(batch.status).toBe("completed");
    const error = await h.client.batches.cancel(batch.id).catch((e) => e);
    expect(error).toMatchObject({
      status: 409,
      type: "invalid_request_error",
      error: { message: "Cannot cancel a batch with status 'completed'.", param: null, code: null },
    });
    const { batch: failed } = await waitForBatch(h.client, (await submit(h, ["nope"])).id);
    await expect(h.client.batches.cancel(failed.id)).rejects.toMatchObject({
      status: 409,
      error: { message: "Cannot cancel a batch with status 'failed'." },
    });
    await expect(h.client.batches.cancel("batch_unknown")).rejects.toMatchObject({ status: 404 });
    await expect(h.client.batches.retrieve("batch_unknown")).rejects.toMatchObject({ status: 404 });
  });
});
