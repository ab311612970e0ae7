import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { inspect } from "node:util";
import { createEmulator, type EmulatorOptions } from "@batchpipe/openai-emulator";
import { afterEach, describe, expect, it } from "vitest";
import { isBatchpipeError } from "../src/errors.js";
import type { Logger } from "../src/plugin.js";
import {
  type BatchInfo,
  type BatchProvider,
  createOpenAIProvider,
  type OpenAIProviderOptions,
  ProviderError,
  type RetryInfo,
  TERMINAL_STATUSES,
} from "../src/provider/index.js";

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.();
});

async function setup(
  emulatorOptions: EmulatorOptions = {},
  providerOptions: Partial<OpenAIProviderOptions> = {},
) {
  const emu = await createEmulator(emulatorOptions);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "provider-test-"));
  const retries: RetryInfo[] = [];
  const provider = createOpenAIProvider({
    baseURL: emu.url,
    apiKey: "sk-test-key-0123456789",
    minDelayMs: 10,
    maxDelayMs: 50,
    onRetry: (info) => retries.push(info),
    ...providerOptions,
  });
  cleanups.push(async () => {
    await provider.close();
    await emu.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return { emu, dir, provider, retries };
}

function writeShard(dir: string, name: string, count: number, model = "gpt-4o-mini"): string {
  const lines = Array.from({ length: count }, (_, i) =>
    JSON.stringify({
      custom_id: `r-${i}`,
      method: "POST",
      url: "/v1/chat/completions",
      body: { model, messages: [{ role: "user", content: `hello ${i}` }] },
    }),
  );
  const file = path.join(dir, name);
  fs.writeFileSync(file, `${lines.join("\n")}\n`);
  return file;
}

const meta = (shard: string, attempt = "1") => ({
  batchpipe_run: "run-1",
  batchpipe_shard: shard,
  batchpipe_attempt: attempt,
});

async function submit(provider: BatchProvider, dir: string, shard: string, count = 3): Promise<BatchInfo> {
  const file = await provider.uploadFile(writeShard(dir, `${shard}.jsonl`, count), {
    filename: `${shard}.jsonl`,
  });
  const created = await provider.createBatch({
    input_file_id: file.id,
    endpoint: "/v1/chat/completions",
    completion_window: "24h",
    metadata: meta(shard),
  });
  if (!("batch" in created)) throw new Error(`queue full: ${created.message}`);
  return created.batch;
}

async function waitTerminal(provider: BatchProvider, id: string): Promise<BatchInfo> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const batch = await provider.retrieveBatch(id);
    if (!batch) throw new Error(`batch ${id} vanished`);
    if (TERMINAL_STATUSES.has(batch.status)) return batch;
    if (Date.now() > deadline) throw new Error(`batch ${id} stuck in ${batch.status}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  let text = "";
  for await (const chunk of stream) text += chunk.toString();
  return text;
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected a rejection");
}

describe("openai provider against the emulator", () => {
  it("uploads, creates, retrieves, lists, downloads and deletes", async () => {
    const { provider, dir } = await setup();
    const shard = writeShard(dir, "00001.jsonl", 3);
    const file = await provider.uploadFile(shard, { filename: "run-1-00001.jsonl" });
    expect(file).toMatchObject({
      filename: "run-1-00001.jsonl",
      bytes: fs.statSync(shard).size,
      purpose: "batch",
    });
    expect(file.id).toMatch(/^file-/);

    const created = await provider.createBatch({
      input_file_id: file.id,
      endpoint: "/v1/chat/completions",
      completion_window: "24h",
      metadata: meta("00001"),
    });
    if (!("batch" in created)) throw new Error("queue full");
    expect(created.batch).toMatchObject({
      status: "validating",
      input_file_id: file.id,
      metadata: meta("00001"),
    });
    expect(created.batch.output_file_id).toBeNull();
    expect(created.batch.errors).toEqual([]);

    const done = await waitTerminal(provider, created.batch.id);
    expect(done.status).toBe("completed");
    expect(done.request_counts).toEqual({ total: 3, completed: 3, failed: 0 });
    expect(done.model).toBe("gpt-4o-mini");
    expect(done.usage?.input_tokens).toBeGreaterThan(0);
    expect(done.output_file_id).toMatch(/^file-/);

    const listed: BatchInfo[] = [];
    for await (const b of provider.listBatches()) listed.push(b);
    expect(listed.map((b) => b.id)).toEqual([created.batch.id]);

    const output = await readAll(await provider.downloadFile(done.output_file_id!));
    const ids = output
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l).custom_id)
      .sort();
    expect(ids).toEqual(["r-0", "r-1", "r-2"]);

    const inputs = [];
    for await (const f of provider.listFiles({ purpose: "batch" })) inputs.push(f.id);
    expect(inputs).toEqual([file.id]);
    const all = [];
    for await (const f of provider.listFiles()) all.push(f.purpose);
    expect(all.sort()).toEqual(["batch", "batch_output"]);

    await provider.deleteFile(file.id);
    await provider.deleteFile(file.id); // already gone: not an error
    const after = [];
    for await (const f of provider.listFiles({ purpose: "batch" })) after.push(f.id);
    expect(after).toEqual([]);
  });

  it("pages through more batches than one list page holds, newest first", async () => {
    const { provider, dir } = await setup();
    const file = await provider.uploadFile(writeShard(dir, "in.jsonl", 1), { filename: "in.jsonl" });
    const made: string[] = [];
    for (let i = 0; i < 130; i++) {
      const r = await provider.createBatch({
        input_file_id: file.id,
        endpoint: "/v1/chat/completions",
        completion_window: "24h",
        metadata: meta(String(i)),
      });
      if ("batch" in r) made.push(r.batch.id);
    }
    const listed: string[] = [];
    for await (const b of provider.listBatches()) listed.push(b.id);
    expect(listed).toHaveLength(130);
    expect(new Set(listed)).toEqual(new Set(made));
    expect(listed[0]).toBe(made.at(-1));
  });

  it("rides out 429s, honouring retry-after-ms and retry-after", async () => {
    const { provider, dir, emu, retries } = await setup({
      faults: [
        { route: "POST /v1/batches", calls: [1, 2], status: 429, retryAfterMs: 200 },
        { route: "GET /v1/batches/:id", calls: [1], status: 429, retryAfter: 1 },
      ],
    });
    const started = Date.now();
    const batch = await submit(provider, dir, "a");
    expect(Date.now() - started).toBeGreaterThanOrEqual(390);
    expect(retries.map((r) => [r.route, r.status, r.delayMs])).toEqual([
      ["POST /batches", 429, 200],
      ["POST /batches", 429, 200],
    ]);
    const again = await provider.retrieveBatch(batch.id);
    expect(again?.id).toBe(batch.id);
    expect(retries.at(-1)).toMatchObject({ status: 429, delayMs: 1000 });
    const state = emu.state();
    expect(state.calls["POST /v1/batches"]).toBe(3);
    expect(state.batches).toHaveLength(1);
  });

  it("retries 500s and connection drops, and gives up with PROVIDER_FAILED after maxAttempts", async () => {
    const { provider, dir, emu } = await setup(
      { faults: [{ route: "GET /v1/batches/:id", calls: [1, 2, 3], status: 502 }] },
      { maxAttempts: 4 },
    );
    const batch = await submit(provider, dir, "a");
    expect((await provider.retrieveBatch(batch.id))?.id).toBe(batch.id);
    expect(emu.state().calls["GET /v1/batches/:id"]).toBe(4);

    emu.configure({ faults: [{ route: "GET /v1/batches/:id", status: 503 }] });
    const error = await rejection(provider.retrieveBatch(batch.id));
    expect(error).toBeInstanceOf(ProviderError);
    expect(error).toMatchObject({ code: "PROVIDER_FAILED", status: 503, attempts: 4 });
    expect((error as Error).message).toContain(`GET /batches/${batch.id} failed after 4 attempts: HTTP 503`);
    expect((error as ProviderError).hint).toMatch(/run again/);
  });

  it("retries a call that times out", async () => {
    const { provider, dir, retries } = await setup(
      { faults: [{ route: "GET /v1/batches/:id", calls: [1], kind: "delay", delayMs: 1_000 }] },
      { timeoutMs: 200 },
    );
    const batch = await submit(provider, dir, "a");
    expect((await provider.retrieveBatch(batch.id))?.id).toBe(batch.id);
    expect(retries).toHaveLength(1);
    expect(retries[0]?.reason).toMatch(/timed out/i);
  });

  it("does not retry when x-should-retry says false, nor on a 400", async () => {
    const { provider, dir, emu } = await setup({
      faults: [{ route: "GET /v1/batches/:id", calls: [1], status: 500, shouldRetry: false }],
    });
    const batch = await submit(provider, dir, "a");
    const error = await rejection(provider.retrieveBatch(batch.id));
    expect(error).toMatchObject({ code: "PROVIDER_FAILED", status: 500, attempts: 1 });
    expect(emu.state().calls["GET /v1/batches/:id"]).toBe(1);

    const file = await provider.uploadFile(writeShard(dir, "b.jsonl", 1), { filename: "b.jsonl" });
    const bad = await rejection(
      provider.createBatch({
        input_file_id: file.id,
        endpoint: "/v1/nope",
        completion_window: "24h",
        metadata: meta("b"),
      }),
    );
    expect(bad).toMatchObject({ code: "PROVIDER_FAILED", status: 400, attempts: 1 });
    expect((bad as Error).message).toMatch(/POST \/batches failed: HTTP 400 invalid_value: .*\/v1\/nope/);
  });

  it("a create that succeeds but answers 500 does not create a second batch", async () => {
    const { provider, dir, emu } = await setup({
      faults: [{ route: "POST /v1/batches", calls: [2], kind: "drop", status: 500 }],
    });
    const first = await submit(provider, dir, "00001"); // another shard's batch, created normally
    const second = await submit(provider, dir, "00002"); // stored, answered 500, reconciled
    const state = emu.state();
    expect(state.calls["POST /v1/batches"]).toBe(2);
    expect(state.batches).toHaveLength(2);
    expect(second.id).not.toBe(first.id);
    expect(second.metadata).toEqual(meta("00002"));
    expect(state.batches.map((b) => b.id).sort()).toEqual([first.id, second.id].sort());
  });

  it("a create whose response is dropped after a 503 with a retry finds the batch by metadata, not a new attempt's", async () => {
    const { provider, dir, emu } = await setup({
      faults: [{ route: "POST /v1/batches", calls: [1], kind: "drop", status: 503 }],
    });
    const file = await provider.uploadFile(writeShard(dir, "x.jsonl", 2), { filename: "x.jsonl" });
    const request = {
      input_file_id: file.id,
      endpoint: "/v1/chat/completions",
      completion_window: "24h",
      metadata: meta("7", "2"),
    };
    const r = await provider.createBatch(request);
    if (!("batch" in r)) throw new Error("queue full");
    expect(r.batch.metadata).toEqual(meta("7", "2"));
    expect(emu.state().batches).toHaveLength(1);
    // a different attempt of the same shard is a different batch
    const r2 = await provider.createBatch({ ...request, metadata: meta("7", "3") });
    expect("batch" in r2 && r2.batch.id).not.toBe(r.batch.id);
    expect(emu.state().batches).toHaveLength(2);
  });

  it("an upload that is stored but answered 500 is not stored twice", async () => {
    const { provider, dir, emu } = await setup({
      faults: [{ route: "POST /v1/files", calls: [1], kind: "drop", status: 500 }],
    });
    const shard = writeShard(dir, "00001.jsonl", 5);
    const file = await provider.uploadFile(shard, { filename: "run-1-00001.jsonl" });
    const state = emu.state();
    expect(state.calls["POST /v1/files"]).toBe(1);
    expect(state.files).toHaveLength(1);
    expect(state.files[0]).toMatchObject({
      id: file.id,
      filename: "run-1-00001.jsonl",
      bytes: fs.statSync(shard).size,
    });
  });

  it("an upload refused with 500 (nothing stored) is sent again from a fresh stream", async () => {
    const { provider, dir, emu } = await setup({
      faults: [{ route: "POST /v1/files", calls: [1, 2], status: 500 }],
    });
    const shard = writeShard(dir, "00001.jsonl", 50);
    const file = await provider.uploadFile(shard, { filename: "s.jsonl" });
    const state = emu.state();
    expect(state.calls["POST /v1/files"]).toBe(3);
    expect(state.files).toHaveLength(1);
    expect(file.bytes).toBe(fs.statSync(shard).size);
    expect(state.files[0]?.bytes).toBe(fs.statSync(shard).size);
  });

  it("retrieve of an unknown batch is null; cancel of a finished batch returns it; cancel of an unknown one is null", async () => {
    const { provider, dir } = await setup();
    expect(await provider.retrieveBatch("batch_does_not_exist")).toBeNull();
    const batch = await submit(provider, dir, "a");
    const done = await waitTerminal(provider, batch.id);
    expect(done.status).toBe("completed");
    const cancelled = await provider.cancelBatch(batch.id);
    expect(cancelled).toMatchObject({ id: batch.id, status: "completed" });
    expect(await provider.cancelBatch("batch_does_not_exist")).toBeNull();
  });

  it("cancels a running batch", async () => {
    const { provider, dir } = await setup({ latencies: { linesPerSecond: 1 } });
    const batch = await submit(provider, dir, "a", 50);
    const cancelling = await provider.cancelBatch(batch.id);
    expect(["cancelling", "cancelled"]).toContain(cancelling?.status);
    expect((await waitTerminal(provider, batch.id)).status).toBe("cancelled");
  });

  it('normalises "" file ids to null', async () => {
    const { provider, dir } = await setup({ emptyStringIds: true });
    const batch = await submit(provider, dir, "a");
    expect(batch.output_file_id).toBeNull();
    expect(batch.error_file_id).toBeNull();
    const done = await waitTerminal(provider, batch.id);
    expect(done.output_file_id).toMatch(/^file-/);
    expect(done.error_file_id).toBeNull();
  });

  it("returns queueFull for a synchronous 400 token_limit_exceeded (Azure fail-fast)", async () => {
    const { provider, dir, emu } = await setup({
      queueLimits: { "gpt-4o-mini": 5 },
      failFastTokenLimit: true,
    });
    const file = await provider.uploadFile(writeShard(dir, "big.jsonl", 20), { filename: "big.jsonl" });
    const r = await provider.createBatch({
      input_file_id: file.id,
      endpoint: "/v1/chat/completions",
      completion_window: "24h",
      metadata: meta("a"),
    });
    expect(r).toMatchObject({ queueFull: true });
    expect("queueFull" in r && r.message).toMatch(/enqueued token limit/i);
    expect(emu.state().batches).toHaveLength(0);
  });

  it("stops retrying when aborted, with the abort reason", async () => {
    const { provider, dir } = await setup(
      { faults: [{ route: "GET /v1/batches/:id", status: 503 }] },
      { minDelayMs: 5_000, maxDelayMs: 5_000 },
    );
    const batch = await submit(provider, dir, "a");
    const controller = new AbortController();
    const started = Date.now();
    setTimeout(() => controller.abort(new Error("stop now")), 100);
    const error = await rejection(provider.retrieveBatch(batch.id, { signal: controller.signal }));
    expect((error as Error).message).toBe("stop now");
    expect(Date.now() - started).toBeLessThan(2_000);
  });
});

describe("secrets", () => {
  const secret = "sk-proj-SECRET-abcdefghijklmnop0123456789";

  function assertClean(value: unknown, lines: string[]) {
    const texts = [
      String(value),
      (value as Error).stack ?? "",
      JSON.stringify(value),
      inspect(value, { depth: 20, showHidden: true }),
      ...lines,
    ];
    for (const text of texts) expect(text).not.toContain(secret);
  }

  function capture(): { logger: Logger; lines: string[] } {
    const lines: string[] = [];
    const log = (message: string, data?: Record<string, unknown>) =>
      lines.push(message + JSON.stringify(data));
    return { logger: { debug: log, info: log, warn: log, error: log }, lines };
  }

  it("never puts the API key in errors or log lines (401, and a server that echoes it)", async () => {
    const { logger, lines } = capture();
    const { provider, emu } = await setup(
      { apiKey: "the-right-key" },
      { apiKey: secret, logger, maxAttempts: 2 },
    );
    const error = await rejection(provider.retrieveBatch("batch_x"));
    expect(error).toMatchObject({ code: "PROVIDER_FAILED", status: 401 });
    expect((error as ProviderError).hint).toMatch(/OPENAI_API_KEY/);
    assertClean(error, lines);

    emu.configure({
      apiKey: secret,
      faults: [{ route: "GET /v1/batches/:id", status: 500, message: `boom, your key is ${secret}` }],
    });
    const echoed = await rejection(provider.retrieveBatch("batch_x"));
    expect(isBatchpipeError(echoed)).toBe(true);
    expect((echoed as Error).message).toContain("[redacted]");
    expect(lines.length).toBeGreaterThan(0);
    assertClean(echoed, lines);
  });

  it("never puts the API key in connection errors", async () => {
    const emu = await createEmulator();
    const url = emu.url;
    await emu.close(); // nothing listens there any more
    const { logger, lines } = capture();
    const provider = createOpenAIProvider({
      baseURL: url,
      apiKey: secret,
      maxAttempts: 2,
      minDelayMs: 5,
      logger,
    });
    const error = await rejection(provider.listBatches()[Symbol.asyncIterator]().next());
    expect(error).toMatchObject({ code: "PROVIDER_FAILED" });
    expect((error as Error).message).toMatch(
      /GET \/batches failed after 2 attempts: Connection error \(ECONNREFUSED\)/,
    );
    assertClean(error, lines);
  });
});
