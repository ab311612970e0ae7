import { afterEach, describe, expect, it } from "vitest";
import { chatLine, type Harness, startHarness, submit, waitForBatch } from "./helpers.js";

let h: Harness;
afterEach(async () => h?.close());

async function failedErrors(lines: unknown[], endpoint = "/v1/chat/completions") {
  const created = await submit(h, lines, endpoint);
  const { batch } = await waitForBatch(h.client, created.id);
  expect(batch.status).toBe("failed");
  expect(batch.failed_at).not.toBeNull();
  expect(batch.in_progress_at).toBeNull();
  expect(batch.output_file_id).toBeNull();
  return batch.errors?.data ?? [];
}

describe("asynchronous validation", () => {
  it("reports every bad line with its 1-based line number and the real codes", async () => {
    h = await startHarness();
    const good = chatLine("ok-1", "fine");
    const { custom_id: _c, ...noCustomId } = chatLine("x", "y");
    const { method: _m, ...noMethod } = chatLine("m", "y");
    const { url: _u, ...noUrl } = chatLine("u", "y");
    const { body: _b, ...noBody } = chatLine("b", "y");
    const errors = await failedErrors([
      good, // 1
      "{not json", // 2
      noCustomId, // 3
      noMethod, // 4
      noUrl, // 5
      noBody, // 6
      { ...chatLine("get", "y"), method: "GET" }, // 7
      { ...chatLine("url", "y"), url: "/v1/embeddings" }, // 8
      chatLine("stream", "y", "gpt-4o-mini", { stream: true }), // 9
      chatLine("unknown-model", "y", "nonexistent-model-xyz"), // 10
      { custom_id: "no-model", method: "POST", url: "/v1/chat/completions", body: { messages: [] } }, // 11
      {
        custom_id: "no-messages",
        method: "POST",
        url: "/v1/chat/completions",
        body: { model: "gpt-4o-mini" },
      }, // 12
      chatLine("ok-1", "duplicate"), // 13
      chatLine("other-model", "y", "gpt-4o"), // 14
      "[1,2]", // 15
    ]);
    expect(errors).toEqual([
      {
        line: 2,
        code: "invalid_json_line",
        param: null,
        message: "This line is not parseable as valid JSON.",
      },
      {
        line: 3,
        code: "missing_required_parameter",
        param: "custom_id",
        message: "Missing required parameter: 'custom_id'.",
      },
      {
        line: 4,
        code: "missing_required_parameter",
        param: "method",
        message: "Missing required parameter: 'method'.",
      },
      {
        line: 5,
        code: "missing_required_parameter",
        param: "url",
        message: "Missing required parameter: 'url'.",
      },
      {
        line: 6,
        code: "missing_required_parameter",
        param: "body",
        message: "Missing required parameter: 'body'.",
      },
      { line: 7, code: "invalid_method", param: "method", message: expect.stringContaining("Only POST") },
      {
        line: 8,
        code: "invalid_url",
        param: "url",
        message: "The URL provided for this request does not match the batch endpoint.",
      },
      {
        line: 9,
        code: "streaming_unsupported",
        param: "body.stream",
        message: "Chat Completions: Streaming is not supported in the Batch API.",
      },
      {
        line: 10,
        code: "model_not_found",
        param: "body.model",
        message: "The provided model 'nonexistent-model-xyz' is not supported by the Batch API.",
      },
      { line: 11, code: "invalid_request", param: "body.model", message: "Model parameter is required." },
      {
        line: 12,
        code: "invalid_request",
        param: "body.messages",
        message: "Messages parameter is required.",
      },
      {
        line: 13,
        code: "duplicate_custom_id",
        param: "custom_id",
        message: expect.stringContaining("'ok-1'"),
      },
      { line: 14, code: "model_mismatch", param: "body.model", message: expect.stringContaining("gpt-4o") },
      {
        line: 15,
        code: "invalid_json_line",
        param: null,
        message: "This line is not parseable as valid JSON.",
      },
    ]);
  });

  it("honours a configured model set", async () => {
    h = await startHarness({ models: ["my-model", "family-*"] });
    const errors = await failedErrors([
      chatLine("a", "x", "my-model"),
      chatLine("b", "x", "gpt-4o-mini"),
      chatLine("c", "x", "my-model"),
    ]);
    expect(errors).toEqual([expect.objectContaining({ line: 2, code: "model_not_found" })]);
  });

  it("fails an empty file with empty_file", async () => {
    h = await startHarness();
    expect(await failedErrors([""])).toEqual([
      {
        code: "empty_file",
        line: null,
        param: null,
        message: "The input file is empty. Please ensure that the batch contains at least one request.",
      },
    ]);
  });

  it("fails more than maxBatchLines lines with too_many_tasks", async () => {
    h = await startHarness({ maxBatchLines: 3 });
    const errors = await failedErrors(Array.from({ length: 4 }, (_, i) => chatLine(`r${i}`, "x")));
    expect(errors).toEqual([expect.objectContaining({ code: "too_many_tasks", line: null })]);
  });

  it("fails a file over maxBatchBytes with the 'larger than the … maximum' message", async () => {
    h = await startHarness({ maxBatchBytes: 1000 });
    const errors = await failedErrors(
      Array.from({ length: 20 }, (_, i) => chatLine(`r${i}`, "x".repeat(50), "gpt-4o")),
    );
    expect(errors).toEqual([
      {
        code: "file_too_large",
        line: null,
        param: null,
        message:
          "The batch input file is larger than the 1000 maximum for the gpt-4o model. Please try again with a smaller batch.",
      },
    ]);
  });

  it("fails embedding batches over maxEmbeddingInputs (array inputs count one by one)", async () => {
    h = await startHarness({ maxEmbeddingInputs: 5 });
    const line = (id: string, input: unknown) => ({
      custom_id: id,
      method: "POST",
      url: "/v1/embeddings",
      body: { model: "text-embedding-3-small", input },
    });
    const errors = await failedErrors(
      [line("a", ["1", "2", "3"]), line("b", ["4", "5", "6"])],
      "/v1/embeddings",
    );
    expect(errors).toEqual([expect.objectContaining({ code: "too_many_inputs", line: null })]);
    const ok = await submit(h, [line("a", ["1", "2", "3"]), line("b", "4")], "/v1/embeddings");
    expect((await waitForBatch(h.client, ok.id)).batch.status).toBe("completed");
  });
});
