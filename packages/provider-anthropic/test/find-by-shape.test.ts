/**
 * Finding a batch whose create answer was lost (no metadata on Anthropic's batches): against the
 * emulator over HTTP with the official SDK, through the provider's connection.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import Anthropic from "@anthropic-ai/sdk";
import type { BatchSnapshot, JsonValue, ProviderConnection, ShardSubmission } from "@batchpipe/core/plugin";
import { createTestContext } from "@batchpipe/core/testing";
import { createEmulator, type Emulator } from "@batchpipe/openai-emulator";
import { afterEach, expect, it } from "vitest";
import anthropic, { encodeRequest, submissionTagId } from "../src/index.js";

const KEY = "sk-ant-find-0123456789";
let emulator: Emulator | undefined;
let connection: ProviderConnection | undefined;
afterEach(async () => {
  await connection?.close();
  await emulator?.close();
});

async function setUp(options: Parameters<typeof createEmulator>[0] = {}) {
  emulator = await createEmulator({ apiKey: KEY, ...options });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bp-anth-find-"));
  const parsed = anthropic.options.parse({
    base_url: emulator.baseUrl,
    retry_attempts: 2,
    retry_min_delay_ms: 10,
    retry_max_delay_ms: 20,
  });
  connection = await anthropic.open({ ...createTestContext(dir, parsed), env: { ANTHROPIC_API_KEY: KEY } });
  const tag = { pipeline: "find", run: "r1", shard: "00001", submission: 1 };
  const lines = Array.from({ length: 6 }, (_, i) =>
    encodeRequest({
      custom_id: `rec/${i}`,
      url: "",
      body: { model: "claude-haiku-4-5", max_tokens: 5, messages: [{ role: "user", content: `hi ${i}` }] },
    }),
  );
  const file = path.join(dir, "00001.jsonl");
  fs.writeFileSync(file, lines.map((l) => `${l.line}\n`).join(""));
  const shard: ShardSubmission = {
    file,
    requests: 6,
    bytes: fs.statSync(file).size,
    model: "",
    endpoint: "",
    completionWindow: "24h",
    tag,
  };
  const sdk = new Anthropic({ baseURL: emulator.baseUrl, apiKey: KEY, maxRetries: 0 });
  return { connection, emulator, shard, sdk, tagId: submissionTagId(tag) };
}

function submitOptions(staged: JsonValue, record: (data: JsonValue) => void = () => {}) {
  return {
    signal: new AbortController().signal,
    staged,
    stage: record,
    maybeStarted: staged !== null,
    since: Date.now() - 60_000,
    known: [],
  };
}

async function ended(c: ProviderConnection, batch: BatchSnapshot): Promise<BatchSnapshot> {
  for (;;) {
    const s = await c.poll(batch, { signal: new AbortController().signal });
    if (s?.state === "ended") return s;
    await new Promise((r) => setTimeout(r, 20));
  }
}

const foreign = (n: number, prefix: string) =>
  Array.from({ length: n }, (_, i) => ({
    custom_id: `${prefix}${i}`,
    params: { model: "claude-haiku-4-5", max_tokens: 5, messages: [{ role: "user" as const, content: "x" }] },
  }));

it("a create answered 500 after it made the batch is found by listing, not made again; results map back by line", async () => {
  const { connection, emulator, shard, tagId } = await setUp({
    faults: [{ route: "POST /v1/messages/batches", calls: [1], kind: "drop", status: 500 }],
  });
  const staged: JsonValue[] = [];
  const result = await connection.submit(
    shard,
    submitOptions(null, (d) => staged.push(d)),
  );
  expect("batch" in result).toBe(true);
  const batch = (result as { batch: BatchSnapshot }).batch;
  expect(emulator.state().anthropic.batches.map((b) => b.id)).toEqual([batch.id]);
  // the intent before the create, then the batch
  expect(staged).toMatchObject([
    { tagId, requests: 6, batchId: null },
    { tagId, requests: 6, batchId: batch.id },
  ]);
  const items = [];
  for await (const item of connection.results(await ended(connection, batch), {
    signal: new AbortController().signal,
  }))
    items.push(item);
  expect(items.map((i) => (i.kind === "unreadable" ? -1 : i.index)).sort()).toEqual([0, 1, 2, 3, 4, 5]);
});

it("two running batches of the shard's size since its create started: nothing is created, the lookup waits", async () => {
  const { connection, emulator, shard, sdk, tagId } = await setUp({ latencies: { linesPerSecond: 0.5 } });
  const staged = { tagId, startedAt: Date.now() - 1000, requests: 6, batchId: null };
  await sdk.messages.batches.create({ requests: foreign(6, "a") });
  await sdk.messages.batches.create({ requests: foreign(6, "b") });
  await expect(connection.submit(shard, submitOptions(staged))).rejects.toMatchObject({
    code: "PROVIDER_FAILED",
    message: expect.stringContaining("2 running batches of 6 requests"),
  });
  const found = connection.find([shard.tag], {
    since: 0,
    signal: new AbortController().signal,
    staged: new Map([["00001#1", staged]]),
  });
  await expect(found).rejects.toMatchObject({ code: "PROVIDER_FAILED" });
  expect(emulator.state().anthropic.batches).toHaveLength(2);
});

it("a batch of someone else's adopted by its shape gives no result of ours, and clean-up leaves it alone", async () => {
  const { connection, emulator, shard, sdk, tagId } = await setUp({ latencies: { linesPerSecond: 20 } });
  const staged = { tagId, startedAt: Date.now() - 1000, requests: 6, batchId: null };
  const other = await sdk.messages.batches.create({ requests: foreign(6, "x") });
  const result = await connection.submit(shard, submitOptions(staged));
  const batch = (result as { batch: BatchSnapshot }).batch;
  // running when found: adopted, but not confirmed ours
  expect(batch).toMatchObject({ id: other.id, data: { tagId, confirmed: false } });
  const done = await ended(connection, batch);
  const items = [];
  for await (const item of connection.results(done, { signal: new AbortController().signal }))
    items.push(item);
  expect(items.map((i) => i.kind)).toEqual(Array(6).fill("unreadable"));
  await connection.cleanUp({ staged, batch: done });
  expect(emulator.state().anthropic.batches).toMatchObject([{ id: other.id, deleted: false }]);
  // once ended, a batch is proven ours or not by its results: the next lookup does not take it
  const again = await connection.find([shard.tag], {
    since: 0,
    signal: new AbortController().signal,
    staged: new Map([["00001#1", staged]]),
  });
  expect(again.size).toBe(0);
});
