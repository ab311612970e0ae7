import { describe, expect, it } from "vitest";
import { toBatchInfo, toFileInfo } from "../src/normalise.js";
import { toSnapshot } from "../src/snapshot.js";

describe("toBatchInfo", () => {
  it("normalises an OpenAI batch: errors object → array, absent ids → null, usage with cached tokens", () => {
    const info = toBatchInfo({
      id: "batch_1",
      object: "batch",
      endpoint: "/v1/chat/completions",
      model: "gpt-4o-mini-2024-07-18",
      input_file_id: "file-in",
      output_file_id: null,
      error_file_id: "",
      status: "failed",
      errors: {
        object: "list",
        data: [
          { code: "token_limit_exceeded", message: "Enqueued token limit reached", line: null, param: null },
        ],
      },
      request_counts: { total: 0, completed: 0, failed: 0 },
      metadata: { batchpipe_run: "r1" },
      created_at: 1714508499,
      expires_at: 1714594899,
      completed_at: null,
      usage: {
        input_tokens: 100,
        input_tokens_details: { cached_tokens: 40 },
        output_tokens: 20,
        output_tokens_details: { reasoning_tokens: 0 },
        total_tokens: 120,
      },
    });
    expect(info).toEqual({
      id: "batch_1",
      status: "failed",
      endpoint: "/v1/chat/completions",
      model: "gpt-4o-mini-2024-07-18",
      input_file_id: "file-in",
      output_file_id: null,
      error_file_id: null,
      errors: [
        { code: "token_limit_exceeded", message: "Enqueued token limit reached", line: null, param: null },
      ],
      request_counts: { total: 0, completed: 0, failed: 0 },
      metadata: { batchpipe_run: "r1" },
      created_at: 1714508499,
      expires_at: 1714594899,
      completed_at: null,
      usage: { input_tokens: 100, output_tokens: 20, total_tokens: 120, cached_tokens: 40 },
    });
  });

  it("accepts compatible servers' shapes: upper-case or American statuses, bare errors array, missing fields", () => {
    const together = toBatchInfo({ id: "b", status: "IN_PROGRESS", input_file_id: "f", output_file_id: "" });
    expect(together).toMatchObject({
      status: "in_progress",
      output_file_id: null,
      error_file_id: null,
      model: null,
      errors: [],
      metadata: null,
      usage: null,
      request_counts: { total: 0, completed: 0, failed: 0 },
      expires_at: null,
    });
    expect(toBatchInfo({ id: "b", status: "canceled" }).status).toBe("cancelled");
    expect(toBatchInfo({ id: "b", status: "Canceling" }).status).toBe("cancelling");
    const groq = toBatchInfo({
      id: "b",
      status: "completed",
      errors: [{ code: "invalid_method", message: "bad", param: "method", line: 3 }],
    });
    expect(groq.errors).toEqual([{ code: "invalid_method", message: "bad", param: "method", line: 3 }]);
  });
});

describe("toFileInfo", () => {
  it("keeps id, filename, bytes, purpose and created_at", () => {
    expect(
      toFileInfo({
        id: "file-1",
        object: "file",
        bytes: 12,
        created_at: 5,
        filename: "a.jsonl",
        purpose: "batch",
      }),
    ).toEqual({ id: "file-1", filename: "a.jsonl", bytes: 12, purpose: "batch", created_at: 5 });
  });
});

describe("toSnapshot", () => {
  const batch = (raw: Record<string, unknown>) =>
    toSnapshot(toBatchInfo({ id: "b", input_file_id: "f", ...raw }));

  it("validating, in_progress, finalizing and cancelling run; completed, expired, cancelled and failed end", () => {
    for (const status of ["validating", "in_progress", "finalizing", "cancelling", "Canceling"]) {
      expect(batch({ status })).toMatchObject({ state: "running", ending: null });
    }
    for (const status of ["completed", "expired", "cancelled", "failed"]) {
      expect(batch({ status })).toMatchObject({ state: "ended", ending: status, status, queueFull: null });
    }
    expect(batch({ status: "canceled" })).toMatchObject({ ending: "cancelled", status: "cancelled" });
  });

  it("a batch failed by the queue (token_limit_exceeded) ends failed with queueFull", () => {
    const refused = batch({
      status: "failed",
      errors: {
        data: [{ code: "token_limit_exceeded", message: "Enqueued token limit reached", line: null }],
      },
    });
    expect(refused).toMatchObject({
      state: "ended",
      ending: "failed",
      queueFull: "Enqueued token limit reached",
      errors: [{ code: "token_limit_exceeded", message: "Enqueued token limit reached", line: null }],
    });
  });

  it("maps errors without a code by whether they name a line; times in ms; counts; file ids in data", () => {
    const snapshot = batch({
      status: "failed",
      errors: [{ code: null, message: "bad line", line: 4 }, { message: "it failed" }],
      output_file_id: "",
      error_file_id: "file-err",
      request_counts: { total: 5, completed: 1, failed: 4 },
      created_at: 1714508499,
      expires_at: 1714594899,
    });
    expect(snapshot).toEqual({
      id: "b",
      data: { input_file_id: "f", output_file_id: null, error_file_id: "file-err" },
      state: "ended",
      status: "failed",
      ending: "failed",
      queueFull: null,
      counts: { total: 5, completed: 1, failed: 4 },
      errors: [
        { code: "invalid_request", message: "bad line", line: 4 },
        { code: "batch_failed", message: "it failed", line: null },
      ],
      createdAt: 1714508499000,
      expiresAt: 1714594899000,
    });
  });
});
