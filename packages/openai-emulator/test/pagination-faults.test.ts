import OpenAI, { toFile } from "openai";
import { afterEach, describe, expect, it } from "vitest";
import { chatLine, type Harness, startHarness, submit, upload, waitForBatch, writeJsonl } from "./helpers.js";

let h: Harness;
afterEach(async () => h?.close());

describe("batch list pagination", () => {
  it("pages over 250 batches with SDK auto-pagination, newest first", async () => {
    h = await startHarness();
    const file = await upload(h.client, writeJsonl(h.dir, "in.jsonl", [chatLine("a", "hi")]));
    const ids: string[] = [];
    for (let i = 0; i < 250; i++) {
      const b = await h.client.batches.create({
        input_file_id: file.id,
        endpoint: "/v1/chat/completions",
        completion_window: "24h",
        metadata: { i: String(i) },
      });
      ids.push(b.id);
    }
    const seen: string[] = [];
    for await (const b of h.client.batches.list()) seen.push(b.id);
    expect(seen).toEqual([...ids].reverse());
    expect(h.emu.state().calls["GET /v1/batches"]).toBe(13); // 12 full pages of 20 + one of 10
    const page = await h.client.batches.list({ limit: 100, after: ids[200] });
    expect(page.data).toHaveLength(100);
    expect(page.data[0]?.id).toBe(ids[199]);
    expect(page.has_more).toBe(true);
    const raw = await (await h.client.batches.list({ limit: 5 }).asResponse()).json();
    expect(raw).toMatchObject({ object: "list", first_id: ids[249], last_id: ids[245], has_more: true });
    await expect(h.client.batches.list({ limit: 101 })).rejects.toMatchObject({
      status: 400,
      param: "limit",
    });
  });
});

describe("control-plane fault injection", () => {
  it("429 with retry-after-ms and 500/502/503 are survived by the SDK's default retries", async () => {
    h = await startHarness(
      {
        faults: [
          { route: "POST /v1/files", calls: [1], status: 502, retryAfterMs: 5 },
          { route: "POST /v1/batches", calls: [1, 2], status: 429, retryAfterMs: 10 },
          { route: "GET /v1/batches/:id", calls: [1], status: 500, retryAfter: 0 },
          { route: "GET /v1/batches/:id", calls: [2], status: 503, retryAfterMs: 5 },
        ],
      },
      2, // the SDK default
    );
    // an upload from fs.createReadStream is not retried by the SDK (a streamed body), a buffered File is
    const file = await h.client.files.create({
      file: await toFile(Buffer.from(`${JSON.stringify(chatLine("a", "hi"))}\n`), "in.jsonl"),
      purpose: "batch",
    });
    const created = await h.client.batches.create({
      input_file_id: file.id,
      endpoint: "/v1/chat/completions",
      completion_window: "24h",
    });
    const { batch } = await waitForBatch(h.client, created.id);
    expect(batch.status).toBe("completed");
    const state = h.emu.state();
    expect(state.calls["POST /v1/files"]).toBe(2);
    expect(state.calls["POST /v1/batches"]).toBe(3);
    expect(state.batches).toHaveLength(1);
    expect(state.counters.faults_injected).toBe(5);
  });

  it("retry-after and x-should-retry headers reach the client", async () => {
    h = await startHarness({
      faults: [
        { route: "GET /v1/batches", status: 429, retryAfter: 3, retryAfterMs: 3000, shouldRetry: false },
      ],
    });
    const res = await fetch(`${h.emu.url}/batches`, { headers: { authorization: "Bearer x" } });
    expect(res.status).toBe(429);
    expect(res.headers.get("retry-after")).toBe("3");
    expect(res.headers.get("retry-after-ms")).toBe("3000");
    expect(res.headers.get("x-should-retry")).toBe("false");
    expect((await res.json()).error).toMatchObject({ code: "rate_limit_exceeded" });
    // x-should-retry: false stops the SDK from retrying
    const client = new OpenAI({ baseURL: h.emu.url, apiKey: "x" });
    await expect(client.batches.list()).rejects.toMatchObject({ status: 429 });
    expect(h.emu.state().calls["GET /v1/batches"]).toBe(2);
  });

  it("'create succeeds but answers 500': the batch exists, and an SDK retry makes a duplicate", async () => {
    h = await startHarness({
      faults: [{ route: "POST /v1/batches", calls: [1], kind: "drop", status: 500 }],
    });
    const file = await upload(h.client, writeJsonl(h.dir, "in.jsonl", [chatLine("a", "hi")]));
    const params = {
      input_file_id: file.id,
      endpoint: "/v1/chat/completions",
      completion_window: "24h",
    } as const;
    await expect(h.client.batches.create({ ...params, metadata: { shard: "1" } })).rejects.toMatchObject({
      status: 500,
    });
    const listed = await h.client.batches.list();
    expect(listed.data).toHaveLength(1);
    expect(listed.data[0]?.metadata).toEqual({ shard: "1" });

    const retrying = new OpenAI({ baseURL: h.emu.url, apiKey: "x", maxRetries: 2 });
    h.emu.configure({
      faults: [{ route: "POST /v1/batches", calls: [2], kind: "drop", status: 500, retryAfterMs: 1 }],
    });
    await retrying.batches.create({ ...params, metadata: { shard: "2" } });
    const shard2 = h.emu.state().batches.filter((b) => b.metadata?.shard === "2");
    expect(shard2).toHaveLength(2);
  });

  it("a dropped upload answer: the file is stored although the client saw a 500", async () => {
    h = await startHarness({ faults: [{ route: "POST /v1/files", kind: "drop", status: 500 }] });
    await expect(
      h.client.files.create({ file: await toFile(Buffer.from("{}\n"), "x.jsonl"), purpose: "batch" }),
    ).rejects.toMatchObject({ status: 500 });
    const files = await h.client.files.list();
    expect(files.data.map((f) => f.filename)).toEqual(["x.jsonl"]);
  });

  it("slow answers trigger SDK timeouts, and the retry succeeds", async () => {
    h = await startHarness({
      faults: [{ route: "GET /v1/batches", calls: [1], kind: "delay", delayMs: 600 }],
    });
    const client = new OpenAI({ baseURL: h.emu.url, apiKey: "x", timeout: 200, maxRetries: 2 });
    const page = await client.batches.list();
    expect(page.data).toEqual([]);
    expect(h.emu.state().calls["GET /v1/batches"]).toBe(2);
    const strict = new OpenAI({ baseURL: h.emu.url, apiKey: "x", timeout: 200, maxRetries: 0 });
    h.emu.configure({ faults: [{ route: "*", kind: "delay", delayMs: 600 }] });
    await expect(strict.batches.list()).rejects.toThrow(/timed out/i);
  });

  it("seeded rate faults on every polled route are absorbed by default retries", async () => {
    h = await startHarness(
      {
        seed: 3,
        latencies: { linesPerSecond: 100 },
        faults: [{ route: "*", rate: 0.2, status: 503, retryAfterMs: 1 }],
      },
      2,
    );
    const created = await submit(
      h,
      Array.from({ length: 50 }, (_, i) => chatLine(`r${i}`, "x")),
    );
    const { batch } = await waitForBatch(h.client, created.id);
    expect(batch.status).toBe("completed");
    expect(h.emu.state().counters.faults_injected).toBeGreaterThan(0);
  });
});
