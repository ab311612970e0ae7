import Anthropic from "@anthropic-ai/sdk";
import { afterEach, describe, expect, it } from "vitest";
import { type AnthropicHarness, request, resultsOf, startAnthropic, waitEnded } from "./anthropic-helpers.js";

let h: AnthropicHarness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const many = (n: number, prefix = "r") =>
  Array.from({ length: n }, (_, i) => request(`${prefix}${i}`, `t${i}`));

describe("Anthropic Message Batches: cancel, delete, queue, expiry", () => {
  it("cancels: canceling with cancel_initiated_at, then ended with succeeded and canceled results", async () => {
    h = await startAnthropic({ latencies: { linesPerSecond: 50, cancelDrain: 0.05 } });
    const { id } = await h.client.messages.batches.create({ requests: many(100) });
    await new Promise((r) => setTimeout(r, 300));
    const canceling = await h.client.messages.batches.cancel(id);
    expect(canceling.processing_status).toBe("canceling");
    expect(canceling.cancel_initiated_at).not.toBeNull();
    expect(canceling.request_counts.processing).toBe(100);
    const ended = await waitEnded(h.client, id);
    const { succeeded, canceled, errored, expired, processing } = ended.request_counts;
    expect(succeeded).toBeGreaterThan(0);
    expect(canceled).toBeGreaterThan(0);
    expect(succeeded + canceled).toBe(100);
    expect(errored + expired + processing).toBe(0);
    const results = await resultsOf(h.client, id);
    expect(results).toHaveLength(100);
    expect(results.filter((r) => r.result.type === "canceled")).toHaveLength(canceled);
    // cancelling an ended batch answers the batch as it is
    expect((await h.client.messages.batches.cancel(id)).processing_status).toBe("ended");
  });

  it("deletes only ended batches; a deleted batch is gone from retrieve and list but kept in the state", async () => {
    h = await startAnthropic({ latencies: { linesPerSecond: 20 } });
    const slow = await h.client.messages.batches.create({ requests: many(40) });
    await expect(h.client.messages.batches.delete(slow.id)).rejects.toMatchObject({
      status: 400,
      error: { error: { type: "invalid_request_error" } },
    });
    await expect(h.client.messages.batches.results(slow.id)).rejects.toThrow(/results_url/);
    const raw = await fetch(`${h.emu.baseUrl}/v1/messages/batches/${slow.id}/results`, {
      headers: { "x-api-key": "k", "anthropic-version": "2023-06-01" },
    });
    expect(raw.status).toBe(400);
    await h.client.messages.batches.cancel(slow.id);
    await waitEnded(h.client, slow.id);
    expect(await h.client.messages.batches.delete(slow.id)).toEqual({
      id: slow.id,
      type: "message_batch_deleted",
    });
    await expect(h.client.messages.batches.retrieve(slow.id)).rejects.toBeInstanceOf(Anthropic.NotFoundError);
    await expect(h.client.messages.batches.delete(slow.id)).rejects.toBeInstanceOf(Anthropic.NotFoundError);
    expect((await h.client.messages.batches.list()).data).toEqual([]);
    expect(h.emu.state().anthropic.batches).toMatchObject([{ id: slow.id, deleted: true }]);
  });

  it("refuses a create past the request-count queue with 429 rate_limit_error and retry-after, across models", async () => {
    h = await startAnthropic({ anthropicQueueLimit: 10, latencies: { linesPerSecond: 1, cancelDrain: 0 } });
    const first = await h.client.messages.batches.create({ requests: many(6, "a") });
    const refused = await h.client.messages.batches
      .create({
        requests: many(5, "b").map((r) => ({ ...r, params: { ...r.params, model: "claude-haiku-4-5" } })),
      })
      .catch((e: unknown) => e as InstanceType<typeof Anthropic.APIError>);
    expect(refused).toBeInstanceOf(Anthropic.RateLimitError);
    const error = refused as InstanceType<typeof Anthropic.RateLimitError>;
    expect(error.error).toMatchObject({ type: "error", error: { type: "rate_limit_error" } });
    expect(Number(error.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(h.emu.state().anthropic.queue).toEqual({ processing: 6, limit: 10 });
    expect(h.emu.state().counters.anthropic_queue_limited).toBe(1);
    // four more fit
    await h.client.messages.batches.create({ requests: many(4, "c") });
    // an ended batch gives its share back
    await h.client.messages.batches.cancel(first.id);
    await waitEnded(h.client, first.id);
    await h.client.messages.batches.create({ requests: many(5, "b") });
    expect(h.emu.state().anthropic.batches).toHaveLength(3);
  });

  it("expires at expires_at with partial results (virtual clock), and after expireAfterLines", async () => {
    // a request per 1,000 virtual seconds: about 86 of 200 run in the 24 h window
    h = await startAnthropic({ timeScale: 100_000, latencies: { linesPerSecond: 0.001 } });
    const { id } = await h.client.messages.batches.create({ requests: many(200) });
    const ended = await waitEnded(h.client, id);
    const { succeeded, expired } = ended.request_counts;
    expect(succeeded).toBeGreaterThan(50);
    expect(succeeded).toBeLessThan(100);
    expect(succeeded + expired).toBe(200);
    expect(Date.parse(ended.ended_at!)).toBeGreaterThanOrEqual(Date.parse(ended.expires_at));
    const results = await resultsOf(h.client, id);
    expect(results.filter((r) => r.result.type === "expired")).toHaveLength(expired);

    h.emu.configure({ timeScale: 1, latencies: { linesPerSecond: 20_000 }, expireAfterLines: 3 });
    const short = await h.client.messages.batches.create({ requests: many(10, "s") });
    expect((await waitEnded(h.client, short.id)).request_counts).toMatchObject({ succeeded: 3, expired: 7 });
  });

  it("archives a batch 29 days after creation: archived_at set, results gone", async () => {
    h = await startAnthropic();
    const { id } = await h.client.messages.batches.create({ requests: many(2) });
    const ended = await waitEnded(h.client, id);
    expect(ended.archived_at).toBeNull();
    // then 29 virtual days pass in about 25 real ms
    h.emu.configure({ timeScale: 100_000_000 });
    await new Promise((r) => setTimeout(r, 100));
    const archived = await h.client.messages.batches.retrieve(id);
    expect(Date.parse(archived.archived_at!) - Date.parse(archived.created_at)).toBe(29 * 24 * 3600_000);
    expect(archived.results_url).toBeNull();
    const raw = await fetch(`${h.emu.baseUrl}/v1/messages/batches/${id}/results`, {
      headers: { "x-api-key": "k", "anthropic-version": "2023-06-01" },
    });
    expect(raw.status).toBe(404);
  });
});

describe("Anthropic Message Batches: faults and introspection", () => {
  it("injects 429 / 500 / 529 faults in Anthropic's envelope; the SDK retries them", async () => {
    h = await startAnthropic({
      faults: [
        { route: "POST /v1/messages/batches", calls: [1], status: 529 },
        { route: "POST /v1/messages/batches", calls: [2], status: 429, retryAfter: 0 },
        { route: "GET /v1/messages/batches/:id", calls: [1], status: 500 },
      ],
    });
    const overloaded = await h.client.messages.batches
      .create({ requests: many(1) })
      .catch((e: unknown) => e as InstanceType<typeof Anthropic.APIError>);
    expect(overloaded).toMatchObject({
      status: 529,
      error: { type: "error", error: { type: "overloaded_error", message: "Overloaded" } },
    });
    const limited = await h.client.messages.batches
      .create({ requests: many(1) })
      .catch((e: unknown) => e as InstanceType<typeof Anthropic.APIError>);
    expect(limited).toBeInstanceOf(Anthropic.RateLimitError);
    expect(limited).toMatchObject({ error: { error: { type: "rate_limit_error" } } });
    const created = await h.client.messages.batches.create({ requests: many(1) });
    const retrying = new Anthropic({ baseURL: h.emu.baseUrl, apiKey: "k", maxRetries: 2 });
    expect((await retrying.messages.batches.retrieve(created.id)).id).toBe(created.id);
    const state = h.emu.state();
    expect(state.calls["POST /v1/messages/batches"]).toBe(3);
    expect(state.calls["GET /v1/messages/batches/:id"]).toBe(2);
    expect(state.counters.faults_injected).toBe(3);
    expect(state.anthropic.batches).toHaveLength(1);
  });

  it("seeded rate faults fire the same calls for the same seed", async () => {
    const pattern = async () => {
      const emu = await startAnthropic({ seed: 9, faults: [{ route: "*", rate: 0.3, status: 529 }] });
      try {
        const statuses: number[] = [];
        for (let i = 0; i < 20; i++) {
          statuses.push(
            await emu.client.messages.batches.list().then(
              () => 200,
              (e: { status: number }) => e.status,
            ),
          );
        }
        return statuses;
      } finally {
        await emu.close();
      }
    };
    const a = await pattern();
    expect(a.filter((s) => s === 529).length).toBeGreaterThan(0);
    expect(a.filter((s) => s === 200).length).toBeGreaterThan(0);
    expect(await pattern()).toEqual(a);
  });

  it("a dropped create makes the batch but answers 500; the state shows it, and who was paid how often", async () => {
    h = await startAnthropic({
      faults: [{ route: "POST /v1/messages/batches", calls: [1], kind: "drop", status: 500 }],
    });
    const dropped = await h.client.messages.batches
      .create({ requests: many(3, "x") })
      .catch((e: unknown) => e as InstanceType<typeof Anthropic.APIError>);
    expect(dropped).toBeInstanceOf(Anthropic.InternalServerError);
    expect(dropped).toMatchObject({ error: { type: "error", error: { type: "api_error" } } });
    const listed = await h.client.messages.batches.list();
    expect(listed.data).toHaveLength(1);
    const lost = listed.data[0]!;
    await waitEnded(h.client, lost.id);
    // a careless client resubmits x0 after the lost answer: it is paid twice
    const again = await h.client.messages.batches.create({ requests: [request("x0", "t0")] });
    await waitEnded(h.client, again.id);
    const state = h.emu.state().anthropic;
    expect(state.batches.map((b) => b.id)).toEqual([lost.id, again.id]);
    expect(state.paid).toEqual({ x0: 2, x1: 1, x2: 1 });
    expect(state.executions).toEqual({ x0: 2, x1: 1, x2: 1 });
    expect(state.paid_twice).toEqual(["x0"]);
    expect(state.params_paid_twice).toEqual([
      { params_sha256: expect.any(String), custom_ids: ["x0", "x0"] },
    ]);
    // the same request resubmitted under a new custom_id is caught by its params
    const renamed = await h.client.messages.batches.create({ requests: [request("y1", "t1")] });
    await waitEnded(h.client, renamed.id);
    expect(h.emu.state().anthropic.params_paid_twice.map((p) => p.custom_ids)).toEqual([
      ["x0", "x0"],
      ["x1", "y1"],
    ]);
    await h.emu.reset();
    expect(h.emu.state().anthropic).toMatchObject({
      batches: [],
      paid: {},
      paid_twice: [],
      params_paid_twice: [],
    });
  });

  it("line rules give errored results in Anthropic's types; attempts count executions across batches", async () => {
    h = await startAnthropic({
      lineRules: [
        { customIds: ["flaky"], error: "server_error", attempts: 1 },
        { customIds: ["long"], error: "context_length_exceeded" },
        { customIds: ["busy"], error: "server_error", status: 529 },
      ],
    });
    const first = await h.client.messages.batches.create({
      requests: [request("flaky", "a"), request("long", "b"), request("busy", "c"), request("fine", "d")],
    });
    await waitEnded(h.client, first.id);
    const byId = Object.fromEntries(
      (await resultsOf(h.client, first.id)).map((r) => [r.custom_id, r.result]),
    );
    expect(byId.flaky).toMatchObject({ type: "errored", error: { error: { type: "api_error" } } });
    expect(byId.long).toMatchObject({
      error: {
        error: { type: "invalid_request_error", message: expect.stringContaining("prompt is too long") },
      },
    });
    expect(byId.busy).toMatchObject({
      error: { error: { type: "overloaded_error", message: "Overloaded" } },
    });
    expect(byId.fine).toMatchObject({ type: "succeeded" });
    const second = await h.client.messages.batches.create({ requests: [request("flaky", "a")] });
    await waitEnded(h.client, second.id);
    expect((await resultsOf(h.client, second.id))[0]?.result.type).toBe("succeeded");
    expect(h.emu.state().anthropic.paid).toEqual({ fine: 1, flaky: 1 });
  });
});
