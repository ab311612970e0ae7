import { describe, expect, it } from "vitest";
import { toResultItem } from "../src/connection.js";
import openai, { encodeRequest, extractOutput, toUsage } from "../src/index.js";

describe("encode", () => {
  it("writes the batch input line byte for byte: custom_id, method POST, url, body as JSON.stringify gives it", () => {
    const body = {
      model: "gpt-4o-mini",
      temperature: 0,
      messages: [{ role: "user", content: 'a "q"\n— ü 🚀' }],
    };
    const encoded = openai.encode({ custom_id: 'id "1"\n', url: "/v1/chat/completions", body }, {});
    expect(encoded.line).toBe(
      `{"custom_id":"id \\"1\\"\\n","method":"POST","url":"/v1/chat/completions","body":${JSON.stringify(body)}}`,
    );
    expect(JSON.parse(encoded.line)).toEqual({
      custom_id: 'id "1"\n',
      method: "POST",
      url: "/v1/chat/completions",
      body,
    });
    expect(encoded).toMatchObject({ model: "gpt-4o-mini", json: false });
  });

  it("model is the body's when a string, else empty; json when the request asks for JSON output", () => {
    const enc = (body: Record<string, unknown>) => encodeRequest({ custom_id: "a", url: "/v1/x", body });
    expect(enc({ model: 5 }).model).toBe("");
    expect(enc({}).model).toBe("");
    expect(enc({ response_format: { type: "json_schema", json_schema: {} } }).json).toBe(true);
    expect(enc({ response_format: { type: "json_object" } }).json).toBe(true);
    expect(enc({ text: { format: { type: "json_schema" } } }).json).toBe(true);
    expect(enc({ response_format: { type: "text" } }).json).toBe(false);
  });
});

describe("output", () => {
  const chat = (content: unknown) => ({ choices: [{ message: { role: "assistant", content } }] });

  it("chat: the message content, parsed when the request asked for JSON", () => {
    const plain = { endpoint: "/v1/chat/completions", json: false };
    const json = { ...plain, json: true };
    expect(extractOutput(chat("hi"), plain)).toEqual({ ok: true, output: "hi" });
    expect(extractOutput(chat('{"a":[1, 2]}'), json)).toEqual({ ok: true, output: { a: [1, 2] } });
    expect(extractOutput(chat("not json"), json)).toEqual({
      ok: false,
      message: expect.stringMatching(/^the model's output is not valid JSON/),
    });
    expect(extractOutput(chat(null), json)).toEqual({ ok: true, output: null });
    expect(openai.output(chat("x"), plain)).toEqual({ ok: true, output: "x" });
  });

  it("embeddings: one vector, or each; responses: the output text; completions: the text; else the body", () => {
    const emb = { endpoint: "/v1/embeddings", json: false };
    expect(extractOutput({ data: [{ embedding: [1, 2] }] }, emb)).toEqual({ ok: true, output: [1, 2] });
    expect(extractOutput({ data: [{ embedding: [1] }, { embedding: [2] }] }, emb)).toEqual({
      ok: true,
      output: [[1], [2]],
    });
    const responses = { endpoint: "/v1/responses", json: false };
    expect(extractOutput({ output_text: "t" }, responses)).toEqual({ ok: true, output: "t" });
    const output = [
      { content: [{ type: "output_text", text: "a" }, { type: "refusal" }] },
      { content: [{ type: "output_text", text: "b" }] },
    ];
    expect(extractOutput({ output }, responses)).toEqual({ ok: true, output: "ab" });
    expect(extractOutput({ choices: [{ text: "c" }] }, { endpoint: "/completions", json: false })).toEqual({
      ok: true,
      output: "c",
    });
    const body = { results: [1] };
    expect(extractOutput(body, { endpoint: "/v1/moderations", json: false })).toEqual({
      ok: true,
      output: body,
    });
  });
});

describe("result lines", () => {
  const line = (value: unknown) => toResultItem(JSON.stringify(value), "line 1 of the output file f");
  const response = (status_code: number, body: unknown) => ({ status_code, request_id: "req", body });

  it("success: a 2xx response and no error, with usage and the model", () => {
    const body = {
      model: "gpt-4o-mini-2024",
      usage: {
        prompt_tokens: 10,
        completion_tokens: 2,
        total_tokens: 12,
        prompt_tokens_details: { cached_tokens: 4 },
      },
    };
    expect(line({ custom_id: "a", response: response(200, body), error: null })).toEqual({
      kind: "success",
      id: "a",
      response: body,
      usage: { input_tokens: 10, output_tokens: 2, total_tokens: 12, cached_tokens: 4 },
      model: "gpt-4o-mini-2024",
    });
    expect(line({ custom_id: "b", response: response(200, {}), error: null })).toMatchObject({
      usage: null,
      model: null,
    });
  });

  it("failure: an error object, or a non-2xx response; retryable for never-run and transient codes", () => {
    expect(
      line({ custom_id: "a", response: null, error: { code: "batch_expired", message: "late" } }),
    ).toEqual({
      kind: "failure",
      id: "a",
      error: { code: "batch_expired", message: "late", status_code: null },
      retryable: true,
    });
    const tooLong = { error: { code: "context_length_exceeded", message: "too long" } };
    expect(line({ custom_id: "b", response: response(400, tooLong), error: null })).toEqual({
      kind: "failure",
      id: "b",
      error: { code: "context_length_exceeded", message: "too long", status_code: 400 },
      retryable: false,
    });
    expect(line({ custom_id: "c", response: response(500, {}), error: null })).toMatchObject({
      error: { code: "http_500", message: "HTTP 500", status_code: 500 },
      retryable: true,
    });
    expect(
      line({ custom_id: "d", response: response(429, { error: { type: "rate_limit" } }), error: null }),
    ).toMatchObject({
      error: { code: "rate_limit" },
      retryable: true,
    });
    expect(line({ custom_id: "e", error: {} })).toMatchObject({
      error: { code: "unknown_error" },
      retryable: false,
    });
  });

  it("unreadable: not JSON, no custom_id, or neither a response status nor an error", () => {
    expect(toResultItem('{"custom_id":"a","resp', "line 3 of the output file f")).toEqual({
      kind: "unreadable",
      reason: expect.stringMatching(/^line 3 of the output file f is not JSON: /),
    });
    expect(line([1])).toEqual({ kind: "unreadable", reason: "line 1 of the output file f has no custom_id" });
    expect(line({ custom_id: 5, response: response(200, {}) })).toMatchObject({ kind: "unreadable" });
    expect(line({ custom_id: "a", response: { body: {} }, error: null })).toEqual({
      kind: "unreadable",
      reason: "line 1 of the output file f (a) has neither a response status nor an error",
    });
  });

  it("usage of the responses API (input_tokens, reasoning tokens)", () => {
    expect(
      toUsage({ input_tokens: 3, output_tokens: 5, output_tokens_details: { reasoning_tokens: 2 } }),
    ).toEqual({ input_tokens: 3, output_tokens: 5, total_tokens: 8, reasoning_tokens: 2 });
  });
});
