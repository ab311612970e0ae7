import fs from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { chatLine, type Harness, startHarness, submit, upload, waitForBatch, writeJsonl } from "./helpers.js";

let h: Harness;
afterEach(async () => h?.close());

async function inputFile(h: Harness) {
  return upload(h.client, writeJsonl(h.dir, "in.jsonl", [chatLine("a", "hi")]));
}

describe("batch create: synchronous checks", () => {
  it("rejects an unsupported endpoint with the real invalid_value message", async () => {
    h = await startHarness();
    const f = await inputFile(h);
    await expect(
      h.client.batches.create({
        input_file_id: f.id,
        endpoint: "/v1/invalid/endpoint" as "/v1/chat/completions",
        completion_window: "24h",
      }),
    ).rejects.toMatchObject({
      status: 400,
      type: "invalid_request_error",
      code: "invalid_value",
      param: "endpoint",
      error: {
        message:
          "Invalid value: '/v1/invalid/endpoint'. Supported values are: '/v1/chat/completions', '/v1/completions', '/v1/embeddings', and '/v1/responses'.",
      },
    });
  });

  it("requires completion_window 24h, the required fields and string metadata within limits", async () => {
    h = await startHarness();
    const f = await inputFile(h);
    const base = {
      input_file_id: f.id,
      endpoint: "/v1/chat/completions" as const,
      completion_window: "24h" as const,
    };
    for (const window of ["1h", "48h", "invalid", ""]) {
      await expect(
        h.client.batches.create({ ...base, completion_window: window as "24h" }),
      ).rejects.toMatchObject({ status: 400, param: "completion_window", code: "invalid_value" });
    }
    for (const missing of ["input_file_id", "endpoint", "completion_window"] as const) {
      const body: Record<string, unknown> = { ...base };
      delete body[missing];
      await expect(h.client.batches.create(body as typeof base)).rejects.toMatchObject({
        status: 400,
        code: "missing_required_parameter",
        param: missing,
        error: { message: `Missing required parameter: '${missing}'.` },
      });
    }
    await expect(
      h.client.batches.create({ ...base, metadata: { tags: ["a"] } as unknown as Record<string, string> }),
    ).rejects.toMatchObject({
      status: 400,
      code: "invalid_type",
      param: "metadata.tags",
      error: { message: "Invalid type for 'metadata.tags': expected a string, but got an array instead." },
    });
    const tooMany = Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, "v"]));
    await expect(h.client.batches.create({ ...base, metadata: tooMany })).rejects.toMatchObject({
      status: 400,
      param: "metadata",
    });
    await expect(
      h.client.batches.create({ ...base, metadata: { ["k".repeat(65)]: "v" } }),
    ).rejects.toMatchObject({
      status: 400,
      param: "metadata",
    });
    await expect(
      h.client.batches.create({ ...base, metadata: { k: "v".repeat(513) } }),
    ).rejects.toMatchObject({
      status: 400,
      param: "metadata.k",
    });
    expect(h.emu.state().batches).toEqual([]);
    const ok = await h.client.batches.create({ ...base, metadata: { k: "v".repeat(512) } });
    expect(ok.status).toBe("validating");
  });

  it("limits batch creations per hour with 429", async () => {
    h = await startHarness({ creationRateLimitPerHour: 3 });
    const f = await inputFile(h);
    const base = {
      input_file_id: f.id,
      endpoint: "/v1/chat/completions" as const,
      completion_window: "24h" as const,
    };
    for (let i = 0; i < 3; i++) await h.client.batches.create(base);
    const error = await h.client.batches.create(base).catch((e) => e);
    expect(error).toMatchObject({ status: 429, code: "rate_limit_exceeded" });
    expect(error.headers.get("retry-after")).toMatch(/^\d+$/);
    expect(h.emu.state().counters.creation_rate_limited).toBe(1);
  });

  it("legacy mode: an unknown input_file_id is a synchronous 400; default: the batch fails", async () => {
    h = await startHarness({ syncFileCheck: true });
    await expect(
      h.client.batches.create({
        input_file_id: "file-nope",
        endpoint: "/v1/chat/completions",
        completion_window: "24h",
      }),
    ).rejects.toMatchObject({ status: 400, param: "file_id", type: "invalid_request_error" });
    await h.close();
    h = await startHarness();
    const created = await h.client.batches.create({
      input_file_id: "file-nope",
      endpoint: "/v1/chat/completions",
      completion_window: "24h",
    });
    const { batch } = await waitForBatch(h.client, created.id);
    expect(batch.status).toBe("failed");
    expect(batch.failed_at).toBeGreaterThanOrEqual(batch.created_at);
    expect(batch.errors?.data).toEqual([
      {
        code: "invalid_request",
        line: null,
        param: "file_id",
        message: "Cannot find file file-nope, or organization org-emulator does not have access to it.",
      },
    ]);
  });

  it("refuses an input file not uploaded with purpose batch (a batch's output file included)", async () => {
    h = await startHarness();
    const lines = writeJsonl(h.dir, "in.jsonl", [chatLine("a", "hi")]);
    const userData = await h.client.files.create({ file: fs.createReadStream(lines), purpose: "user_data" });
    const params = { endpoint: "/v1/chat/completions", completion_window: "24h" } as const;
    const error = await h.client.batches.create({ ...params, input_file_id: userData.id }).catch((e) => e);
    expect(error).toMatchObject({
      status: 400,
      type: "invalid_request_error",
      param: "input_file_id",
      code: "invalid_value",
      error: {
        message: `The input file ${userData.id} has purpose 'user_data'; a batch's input file must be uploaded with purpose 'batch'.`,
      },
    });
    const { batch } = await waitForBatch(h.client, (await submit(h, [chatLine("a", "hi")])).id);
    await expect(
      h.client.batches.create({ ...params, input_file_id: batch.output_file_id! }),
    ).rejects.toMatchObject({ status: 400, param: "input_file_id" });
    expect(h.emu.state().batches).toHaveLength(1);
  });

  it("a file deleted before validation makes the batch fail", async () => {
    h = await startHarness({ latencies: { validation: 0.5 } });
    const f = await inputFile(h);
    const created = await h.client.batches.create({
      input_file_id: f.id,
      endpoint: "/v1/chat/completions",
      completion_window: "24h",
    });
    await h.client.files.delete(f.id);
    const { batch } = await waitForBatch(h.client, created.id);
    expect(batch.status).toBe("failed");
    expect(batch.errors?.data[0]).toMatchObject({ code: "invalid_request", param: "file_id", line: null });
  });

  it("empty-string ids toggle: absent file ids are '' instead of null", async () => {
    h = await startHarness({ emptyStringIds: true });
    const created = await submit(h, [chatLine("a", "hi")]);
    expect(created.output_file_id).toBe("");
    expect(created.error_file_id).toBe("");
    const { batch } = await waitForBatch(h.client, created.id);
    expect(batch.output_file_id).toMatch(/^file-/);
    expect(batch.error_file_id).toBe("");
  });

  it("the JSON body is required to be valid", async () => {
    h = await startHarness();
    const res = await fetch(`${h.emu.url}/batches`, {
      method: "POST",
      headers: { authorization: "Bearer x", "content-type": "application/json" },
      body: "{not json",
    });
    expect(res.status).toBe(400);
    expect((await res.json()).error.type).toBe("invalid_request_error");
  });

  it("file visibility race: a fresh file is 'not found' by batches while GET /files works", async () => {
    h = await startHarness({ latencies: { fileVisibility: 1 } });
    const f = await inputFile(h);
    const params = {
      input_file_id: f.id,
      endpoint: "/v1/chat/completions",
      completion_window: "24h",
    } as const;
    const early = await h.client.batches.create(params);
    expect((await h.client.files.retrieve(f.id)).id).toBe(f.id);
    const { batch } = await waitForBatch(h.client, early.id);
    expect(batch.status).toBe("failed");
    expect(batch.errors?.data[0]).toMatchObject({ code: "invalid_request", param: "file_id" });
    await new Promise((r) => setTimeout(r, 1000));
    const later = await h.client.batches.create(params);
    expect((await waitForBatch(h.client, later.id)).batch.status).toBe("completed");
  });
});
