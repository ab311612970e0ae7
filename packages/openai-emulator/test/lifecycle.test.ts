import { afterEach, describe, expect, it } from "vitest";
import { chatLine, type Harness, readLinesOf, startHarness, submit, waitForBatch } from "./helpers.js";

let h: Harness;
afterEach(async () => h?.close());

describe("batch lifecycle", () => {
  it("validating → in_progress → finalizing → completed, with files, usage and timestamps", async () => {
    h = await startHarness({ latencies: { linesPerSecond: 100, finalizing: 0.3 } });
    const lines = Array.from({ length: 100 }, (_, i) => chatLine(`r-${i}`, `hello ${i}`));
    const created = await submit(h, lines, "/v1/chat/completions", { run: "t1" });
    expect(created.status).toBe("validating");
    expect(created.request_counts).toEqual({ total: 0, completed: 0, failed: 0 });
    expect(created.output_file_id).toBeNull();
    expect(created.error_file_id).toBeNull();
    expect(created.errors).toBeNull();
    expect(created.metadata).toEqual({ run: "t1" });
    expect(created.expires_at).toBe(created.created_at + 86400);
    expect(created.in_progress_at).toBeNull();

    const partial: number[] = [];
    const finalizing: (string | null)[] = [];
    const { batch, statuses } = await waitForBatch(h.client, created.id, {
      until: (b) => {
        if (b.status === "in_progress") partial.push(b.request_counts?.completed ?? 0);
        if (b.status === "finalizing") {
          expect(b.request_counts?.completed).toBe(100);
          finalizing.push(b.output_file_id);
        }
        return b.status === "completed";
      },
    });
    // the output file id appears with `completed`, not while finalizing
    expect(finalizing.length).toBeGreaterThan(0);
    expect(finalizing.every((id) => id === null)).toBe(true);
    expect(statuses).toEqual(["validating", "in_progress", "finalizing", "completed"]);
    expect(partial.some((n) => n > 0 && n < 100)).toBe(true);
    expect(batch.request_counts).toEqual({ total: 100, completed: 100, failed: 0 });
    expect(batch.model).toBe("gpt-4o-mini");
    expect(batch.in_progress_at).toBeGreaterThanOrEqual(batch.created_at);
    expect(batch.finalizing_at).toBeGreaterThanOrEqual(batch.in_progress_at!);
    expect(batch.completed_at).toBeGreaterThanOrEqual(batch.finalizing_at!);
    expect(batch.error_file_id).toBeNull();
    expect(batch.usage?.input_tokens).toBeGreaterThan(0);
    expect(batch.usage?.total_tokens).toBe(
      (batch.usage?.input_tokens ?? 0) + (batch.usage?.output_tokens ?? 0),
    );

    const out = await readLinesOf(h.client, batch.output_file_id);
    expect(out).toHaveLength(100);
    const first = out.find((l) => l.custom_id === "r-7");
    expect(first.id).toMatch(/^batch_req_[0-9a-f]{32}$/);
    expect(first.error).toBeNull();
    expect(first.response.status_code).toBe(200);
    expect(first.response.body.object).toBe("chat.completion");
    expect(first.response.body.choices[0].message.content).toBe("hello 7");
    const summed = out.reduce((s, l) => s + l.response.body.usage.prompt_tokens, 0);
    expect(batch.usage?.input_tokens).toBe(summed);

    const outFile = await h.client.files.retrieve(batch.output_file_id!);
    expect(outFile.purpose).toBe("batch_output");

    const state = h.emu.state();
    expect(state.batches[0]?.metadata).toEqual({ run: "t1" });
    expect(state.batches[0]?.input_sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(state.calls["POST /v1/batches"]).toBe(1);
  });
});
