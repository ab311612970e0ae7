import Anthropic from "@anthropic-ai/sdk";
import { afterEach, describe, expect, it } from "vitest";
import { type AnthropicHarness, request, resultsOf, startAnthropic, waitEnded } from "./anthropic-helpers.js";

let h: AnthropicHarness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe("Anthropic Message Batches: create, retrieve, results", () => {
  it("runs a batch of mixed models to ended and streams one result per request, shuffled", async () => {
    h = await startAnthropic({ seed: 3 });
    const requests = Array.from({ length: 40 }, (_, i) =>
      request(`r-${i}`, `hello ${i}`, { model: i % 2 ? "claude-haiku-4-5" : "claude-sonnet-4-5" }),
    );
    const created = await h.client.messages.batches.create({ requests });
    expect(created.id).toMatch(/^msgbatch_01[0-9A-Za-z]{22}$/);
    expect(created.type).toBe("message_batch");
    expect(created.processing_status).toBe("in_progress");
    expect(created.request_counts).toEqual({
      processing: 40,
      succeeded: 0,
      errored: 0,
      canceled: 0,
      expired: 0,
    });
    expect(created.results_url).toBeNull();
    expect(created.ended_at).toBeNull();
    expect(Date.parse(created.expires_at) - Date.parse(created.created_at)).toBe(24 * 3600_000);

    const ended = await waitEnded(h.client, created.id);
    expect(ended.request_counts).toEqual({
      processing: 0,
      succeeded: 40,
      errored: 0,
      canceled: 0,
      expired: 0,
    });
    expect(ended.results_url).toBe(`${h.emu.baseUrl}/v1/messages/batches/${created.id}/results`);
    expect(ended.ended_at).not.toBeNull();

    const results = await resultsOf(h.client, created.id);
    expect(results.map((r) => r.custom_id).sort()).toEqual(requests.map((r) => r.custom_id).sort());
    expect(results.map((r) => r.custom_id)).not.toEqual(requests.map((r) => r.custom_id));
    const one = results.find((r) => r.custom_id === "r-7")!;
    expect(one.result.type).toBe("succeeded");
    if (one.result.type !== "succeeded") return;
    const message = one.result.message;
    expect(message.id).toMatch(/^msg_01/);
    expect(message).toMatchObject({
      type: "message",
      role: "assistant",
      model: "claude-haiku-4-5",
      content: [{ type: "text", text: "hello 7" }],
      stop_reason: "end_turn",
    });
    expect(message.usage).toMatchObject({
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 0,
      service_tier: "batch",
    });
    expect(message.usage.input_tokens).toBeGreaterThan(0);
    expect(message.usage.output_tokens).toBeGreaterThan(0);
  });

  it("answers JSON output with a sample of the schema and a forced tool with tool_use", async () => {
    h = await startAnthropic();
    const schema = {
      type: "object",
      properties: { label: { type: "string", enum: ["spam", "ham"] } },
      required: ["label"],
    };
    const { id } = await h.client.messages.batches.create({
      requests: [
        request("json", "classify", { output_config: { format: { type: "json_schema", schema } } }),
        request("tool", "classify", {
          tools: [{ name: "label", description: "d", input_schema: schema }],
          tool_choice: { type: "tool", name: "label" },
        }),
        request("short", "x".repeat(400), { max_tokens: 5 }),
      ],
    });
    await waitEnded(h.client, id);
    const byId = Object.fromEntries((await resultsOf(h.client, id)).map((r) => [r.custom_id, r.result]));
    expect(byId.json).toMatchObject({
      type: "succeeded",
      message: { content: [{ type: "text", text: '{"label":"spam"}' }] },
    });
    expect(byId.tool).toMatchObject({
      type: "succeeded",
      message: {
        stop_reason: "tool_use",
        content: [{ type: "tool_use", name: "label", input: { label: "spam" } }],
      },
    });
    expect(byId.short).toMatchObject({
      type: "succeeded",
      message: { stop_reason: "max_tokens", usage: { output_tokens: 5 } },
    });
  });

  it("serves the SDK's beta surface (anthropic-beta header, ?beta=true) the same, with the beta's output_format", async () => {
    h = await startAnthropic();
    const schema = { type: "object", properties: { n: { type: "integer", minimum: 3 } }, required: ["n"] };
    const { id } = await h.client.beta.messages.batches.create({
      betas: ["structured-outputs-2025-11-13"],
      requests: [request("x", "hi", { output_format: { type: "json_schema", schema } })],
    });
    await waitEnded(h.client, id);
    const lines = [];
    for await (const line of await h.client.beta.messages.batches.results(id)) lines.push(line);
    expect(lines).toMatchObject([
      { custom_id: "x", result: { type: "succeeded", message: { content: [{ text: '{"n":3}' }] } } },
    ]);
    expect(await h.client.beta.messages.batches.delete(id)).toEqual({ id, type: "message_batch_deleted" });
  });

  it("reports prompt-cache writes, then reads, for a prefix marked with cache_control", async () => {
    h = await startAnthropic({ shuffleOutput: false });
    const system = [
      { type: "text" as const, text: "s".repeat(400), cache_control: { type: "ephemeral" as const } },
    ];
    const { id } = await h.client.messages.batches.create({
      requests: [
        request("first", "q1", { system }),
        request("second", "q2", { system }),
        request("plain", "q3"),
      ],
    });
    await waitEnded(h.client, id);
    const usage = Object.fromEntries(
      (await resultsOf(h.client, id)).map((r) => [
        r.custom_id,
        r.result.type === "succeeded" ? r.result.message.usage : null,
      ]),
    );
    expect(usage.first).toMatchObject({ cache_creation_input_tokens: 100, cache_read_input_tokens: 0 });
    expect(usage.first?.cache_creation).toEqual({
      ephemeral_5m_input_tokens: 100,
      ephemeral_1h_input_tokens: 0,
    });
    expect(usage.second).toMatchObject({ cache_creation_input_tokens: 0, cache_read_input_tokens: 100 });
    expect(usage.second?.input_tokens).toBe(usage.plain?.input_tokens);
  });

  it("marks requests with invalid params as errored results (invalid_request_error, unknown model not_found_error)", async () => {
    h = await startAnthropic();
    const { id } = await h.client.messages.batches.create({
      requests: [
        request("ok", "fine"),
        {
          custom_id: "no-max",
          params: { model: "claude-sonnet-4-5", messages: [{ role: "user", content: "x" }] } as never,
        },
        request("zero", "x", { max_tokens: 0 }),
        request("gpt", "x", { model: "gpt-4o" }),
        request("no-messages", "x", { messages: [] }),
      ],
    });
    const ended = await waitEnded(h.client, id);
    expect(ended.request_counts).toMatchObject({ succeeded: 1, errored: 4 });
    const byId = Object.fromEntries((await resultsOf(h.client, id)).map((r) => [r.custom_id, r.result]));
    expect(byId["no-max"]).toEqual({
      type: "errored",
      error: {
        type: "error",
        error: { type: "invalid_request_error", message: "max_tokens: Field required" },
        request_id: null,
      },
    });
    expect(byId.zero).toMatchObject({ error: { error: { type: "invalid_request_error" } } });
    expect(byId.gpt).toMatchObject({
      error: { error: { type: "not_found_error", message: "model: gpt-4o" } },
    });
    expect(byId["no-messages"]).toMatchObject({ error: { error: { type: "invalid_request_error" } } });
    expect(h.emu.state().anthropic.paid).toEqual({ ok: 1 });
  });

  it("lists newest first with limit, after_id and before_id, and the SDK's auto-pagination", async () => {
    h = await startAnthropic();
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) {
      ids.push((await h.client.messages.batches.create({ requests: [request(`b${i}`, "x")] })).id);
    }
    const newestFirst = [...ids].reverse();
    const first = await h.client.messages.batches.list({ limit: 3 });
    expect(first.data.map((b) => b.id)).toEqual(newestFirst.slice(0, 3));
    expect(first).toMatchObject({ has_more: true, first_id: newestFirst[0], last_id: newestFirst[2] });
    const second = await h.client.messages.batches.list({ limit: 3, after_id: newestFirst[2] });
    expect(second.data.map((b) => b.id)).toEqual(newestFirst.slice(3, 6));
    const last = await h.client.messages.batches.list({ limit: 3, after_id: newestFirst[5] });
    expect(last.data.map((b) => b.id)).toEqual(newestFirst.slice(6));
    expect(last.has_more).toBe(false);
    const back = await h.client.messages.batches.list({ limit: 2, before_id: newestFirst[4] });
    expect(back.data.map((b) => b.id)).toEqual(newestFirst.slice(2, 4));
    expect(back.has_more).toBe(true);
    const all: string[] = [];
    for await (const batch of h.client.messages.batches.list({ limit: 2 })) all.push(batch.id);
    expect(all).toEqual(newestFirst);
    // backwards from the oldest: the SDK pages with before_id = first_id
    const newer: string[] = [];
    for await (const batch of h.client.messages.batches.list({ limit: 2, before_id: newestFirst[6] })) {
      newer.push(batch.id);
    }
    expect(newer).toEqual([
      ...newestFirst.slice(4, 6),
      ...newestFirst.slice(2, 4),
      ...newestFirst.slice(0, 2),
    ]);
    await expect(h.client.messages.batches.list({ limit: 0 })).rejects.toBeInstanceOf(
      Anthropic.BadRequestError,
    );
  });

  it("refuses bad creates with invalid_request_error naming the request index", async () => {
    h = await startAnthropic();
    const create = async (requests: unknown) => {
      try {
        await h!.client.messages.batches.create({ requests } as never);
      } catch (e) {
        const error = e as InstanceType<typeof Anthropic.APIError>;
        const body = error.error as { type: string; error: { type: string; message: string } };
        return { status: error.status, type: body.error.type, message: body.error.message, body, error };
      }
      throw new Error("the create was accepted");
    };
    const cases: [unknown, string][] = [
      [[], "requests: List should have at least 1 item after validation, not 0"],
      [
        [request("a", "x"), request("b/c", "x")],
        "requests.1.custom_id: String should match pattern '^[a-zA-Z0-9_-]{1,64}$'",
      ],
      // the length is checked before the pattern, as anthropics/anthropic-sdk-python#984 saw it
      [[request("a".repeat(65), "x")], "requests.0.custom_id: String should have at most 64 characters"],
      [
        [request("a", "x"), request("", "x")],
        "requests.1.custom_id: String should have at least 1 character",
      ],
      [[request("é".repeat(65), "x")], "requests.0.custom_id: String should have at most 64 characters"],
      [
        [request("a", "x"), request("b", "x"), request("a", "y")],
        "requests.2.custom_id: Duplicate custom_id 'a'",
      ],
      [[request("a", "x"), { custom_id: "b" }], "requests.1.params: Field required"],
      [undefined, "requests: Field required"],
    ];
    for (const [requests, message] of cases) {
      const refused = await create(requests);
      expect(refused).toMatchObject({ status: 400, type: "invalid_request_error", body: { type: "error" } });
      expect(refused.message).toContain(message);
      expect(refused.error.requestID).toMatch(/^req_/);
    }
    h.emu.configure({ anthropicMaxBatchRequests: 3 });
    const tooMany = await create([1, 2, 3, 4].map((i) => request(`r${i}`, "x")));
    expect(tooMany.message).toBe("requests: List should have at most 3 items after validation, not 4");
    h.emu.configure({ anthropicMaxBatchBytes: 1000 });
    const big = await create([request("big", "x".repeat(2000))]);
    expect(big).toMatchObject({ status: 413, type: "request_too_large" });
    expect(h.emu.state().anthropic.batches).toEqual([]);
  });

  it("checks x-api-key and anthropic-version, and answers unknown ids with not_found_error", async () => {
    h = await startAnthropic({ apiKey: "right" });
    const wrong = new Anthropic({ baseURL: h.emu.baseUrl, apiKey: "wrong", maxRetries: 0 });
    await expect(wrong.messages.batches.list()).rejects.toMatchObject({
      status: 401,
      error: { type: "error", error: { type: "authentication_error", message: "invalid x-api-key" } },
    });
    const res = await fetch(`${h.emu.baseUrl}/v1/messages/batches`, { headers: { "x-api-key": "right" } });
    expect(res.status).toBe(400);
    expect(res.headers.get("request-id")).toMatch(/^req_/);
    expect(await res.json()).toMatchObject({ error: { message: "anthropic-version: header is required" } });
    const right = new Anthropic({ baseURL: h.emu.baseUrl, apiKey: "right", maxRetries: 0 });
    await expect(right.messages.batches.retrieve("msgbatch_nope")).rejects.toBeInstanceOf(
      Anthropic.NotFoundError,
    );
    await expect(right.messages.batches.retrieve("msgbatch_nope")).rejects.toMatchObject({
      error: { error: { type: "not_found_error" } },
    });
  });

  it("answers POST /v1/messages synchronously", async () => {
    h = await startAnthropic();
    const message = await h.client.messages.create({
      model: "claude-opus-4-1",
      max_tokens: 100,
      system: "be brief",
      messages: [{ role: "user", content: [{ type: "text", text: "ping" }] }],
    });
    expect(message).toMatchObject({
      type: "message",
      content: [{ type: "text", text: "ping" }],
      usage: { service_tier: "standard" },
    });
    await expect(
      h.client.messages.create({
        model: "claude-opus-4-1",
        messages: [{ role: "user", content: "x" }],
      } as never),
    ).rejects.toMatchObject({ status: 400, error: { error: { message: "max_tokens: Field required" } } });
  });
});
