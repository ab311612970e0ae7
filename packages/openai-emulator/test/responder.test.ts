import { afterEach, describe, expect, it } from "vitest";
import { estimateRequestTokens, sampleFromSchema } from "../src/index.js";
import { type Harness, readLinesOf, startHarness, submit, waitForBatch } from "./helpers.js";

let h: Harness;
afterEach(async () => h?.close());

const schema = {
  type: "object",
  properties: {
    sentiment: { type: "string", enum: ["positive", "negative"] },
    score: { type: "number", minimum: 1 },
    count: { type: "integer" },
    ok: { type: "boolean" },
    tags: { type: "array", items: { type: "string" }, minItems: 2 },
    nested: { $ref: "#/$defs/Nested" },
    maybe: { anyOf: [{ type: "null" }, { type: "string" }] },
  },
  required: ["sentiment", "score", "count", "ok", "tags", "nested", "maybe"],
  additionalProperties: false,
  $defs: {
    Nested: { type: "object", properties: { when: { type: "string", format: "date" } }, required: ["when"] },
  },
};

describe("deterministic responder", () => {
  it("answers a json_schema chat request with JSON satisfying the schema", async () => {
    expect(sampleFromSchema(schema)).toEqual({
      sentiment: "positive",
      score: 1,
      count: 0,
      ok: true,
      tags: ["example tags", "example tags"],
      nested: { when: "2024-01-01" },
      maybe: "example maybe",
    });
    h = await startHarness();
    const created = await submit(h, [
      {
        custom_id: "s",
        method: "POST",
        url: "/v1/chat/completions",
        body: {
          model: "gpt-4o-mini",
          messages: [{ role: "user", content: "rate this" }],
          response_format: { type: "json_schema", json_schema: { name: "x", strict: true, schema } },
        },
      },
    ]);
    const { batch } = await waitForBatch(h.client, created.id);
    const [line] = await readLinesOf(h.client, batch.output_file_id);
    const content = line?.response?.body.choices[0].message.content;
    expect(JSON.parse(content)).toEqual(sampleFromSchema(schema));
    const usage = line?.response?.body.usage;
    expect(usage.prompt_tokens).toBe(
      estimateRequestTokens("/v1/chat/completions", { messages: [{ role: "user", content: "rate this" }] }),
    );
    expect(usage.completion_tokens).toBe(Math.ceil(content.length / 4));
  });

  it("embeds deterministically as unit vectors, honouring dimensions and array inputs", async () => {
    h = await startHarness();
    const line = (id: string, input: unknown, dimensions?: number) => ({
      custom_id: id,
      method: "POST",
      url: "/v1/embeddings",
      body: { model: "text-embedding-3-small", input, ...(dimensions ? { dimensions } : {}) },
    });
    const created = await submit(h, [line("a", "hello"), line("b", ["hello", "world"], 8)], "/v1/embeddings");
    const { batch } = await waitForBatch(h.client, created.id);
    expect(batch.status).toBe("completed");
    const out = Object.fromEntries(
      (await readLinesOf(h.client, batch.output_file_id)).map((l) => [l.custom_id, l]),
    );
    const a = out.a?.response?.body;
    expect(a.object).toBe("list");
    expect(a.data[0].embedding).toHaveLength(1536);
    const norm = Math.hypot(...a.data[0].embedding);
    expect(norm).toBeCloseTo(1, 5);
    const b = out.b?.response?.body;
    expect(b.data).toHaveLength(2);
    expect(b.data[1].index).toBe(1);
    expect(b.data[0].embedding).toHaveLength(8);
    expect(b.usage.prompt_tokens).toBe(4); // ceil(5/4) * 2
    // same text, same vector (the sync endpoint uses the same responder)
    const sync = await h.client.embeddings.create({
      model: "text-embedding-3-small",
      input: "hello",
      encoding_format: "float",
    });
    expect(sync.data[0]?.embedding).toEqual(a.data[0].embedding);
  });

  it("answers /v1/responses and /v1/completions with plausible objects and usage", async () => {
    h = await startHarness();
    const r = await submit(
      h,
      [
        {
          custom_id: "r",
          method: "POST",
          url: "/v1/responses",
          body: { model: "gpt-4o-mini", input: "say hi" },
        },
      ],
      "/v1/responses",
    );
    const { batch } = await waitForBatch(h.client, r.id);
    const [line] = await readLinesOf(h.client, batch.output_file_id);
    expect(line?.response?.body).toMatchObject({
      object: "response",
      status: "completed",
      model: "gpt-4o-mini",
      output: [{ type: "message", role: "assistant", content: [{ type: "output_text", text: "say hi" }] }],
      usage: { input_tokens: expect.any(Number), output_tokens: 2 },
    });
    const c = await submit(
      h,
      [
        {
          custom_id: "c",
          method: "POST",
          url: "/v1/completions",
          body: { model: "gpt-4o-mini", prompt: "abc" },
        },
      ],
      "/v1/completions",
    );
    const { batch: cb } = await waitForBatch(h.client, c.id);
    const [cl] = await readLinesOf(h.client, cb.output_file_id);
    expect(cl?.response?.body).toMatchObject({
      object: "text_completion",
      choices: [{ text: "abc", finish_reason: "stop" }],
      usage: { prompt_tokens: 4, completion_tokens: 1, total_tokens: 5 },
    });
    const chat = await h.client.chat.completions.create({
      model: "gpt-4o-mini",
      messages: [
        { role: "system", content: "sys" },
        { role: "user", content: [{ type: "text", text: "parts" }] },
      ],
    });
    expect(chat.choices[0]?.message.content).toBe("parts");
  });
});

it("base64 embeddings decode to the same vector (float32)", async () => {
  h = await startHarness();
  const body = { model: "text-embedding-3-small", input: "hello", dimensions: 16 };
  const viaSdk = await h.client.embeddings.create(body); // the SDK asks for base64 and decodes it
  const asFloat = await h.client.embeddings.create({ ...body, encoding_format: "float" });
  const a = viaSdk.data[0]!.embedding;
  const b = asFloat.data[0]!.embedding;
  expect(a).toHaveLength(16);
  for (const [i, v] of a.entries()) expect(v).toBeCloseTo(b[i]!, 6);
});
