import { readFileSync } from "node:fs";
import { describe, expect, test } from "vitest";
import { replaceId } from "../src/client.js";
import anthropic, {
  customId,
  encodeRequest,
  extractOutput,
  parseCustomId,
  submissionTagId,
  toResultItem,
  toUsage,
} from "../src/index.js";

const tag = { pipeline: "p", run: "r1", shard: "00001", submission: 1 };
const tagId = submissionTagId(tag);

describe("requests and ids", () => {
  test("origin (the result cache keeps servers apart): none for Anthropic itself, else the base URL or ANTHROPIC_BASE_URL", () => {
    const origin = (options: object, env: Record<string, string> = {}) =>
      anthropic.origin!(anthropic.options.parse(options), env);
    expect(origin({})).toBeUndefined();
    expect(origin({ base_url: "https://api.anthropic.com/" })).toBeUndefined();
    expect(origin({}, { ANTHROPIC_BASE_URL: "http://127.0.0.1:4000" })).toBe("http://127.0.0.1:4000");
    expect(origin({ base_url: "http://127.0.0.1:5000/" }, { ANTHROPIC_BASE_URL: "http://x" })).toBe(
      "http://127.0.0.1:5000",
    );
    // betas can change the answers: each set is an origin of its own, in any order
    expect(origin({ betas: ["b-2", "a-1"] })).toBe("betas a-1,b-2");
    expect(origin({ betas: ["a-1", "b-2"], base_url: "http://127.0.0.1:5000" })).toBe(
      "http://127.0.0.1:5000 betas a-1,b-2",
    );
    expect(origin({ betas: [] })).toBeUndefined();
  });

  test("a request becomes {custom_id, params}; the create replaces any id with the tagged one", () => {
    const id = `a/b:c "quoted" \\ ${"x".repeat(80)}`;
    const body = { model: "claude-haiku-4-5", max_tokens: 10, messages: [{ role: "user", content: "hi" }] };
    const encoded = encodeRequest({ custom_id: id, url: "/v1/chat/completions", body });
    expect(encoded).toMatchObject({ model: "claude-haiku-4-5", json: false });
    expect(JSON.parse(encoded.line)).toEqual({ custom_id: id, params: body });
    const sent = JSON.parse(replaceId(encoded.line, customId(tagId, 41)));
    expect(sent).toEqual({ custom_id: `${tagId}-41`, params: body });
    expect(sent.custom_id).toMatch(/^[a-zA-Z0-9_-]{1,64}$/);
    expect(parseCustomId(sent.custom_id)).toEqual({ tagId, line: 41 });
  });

  test("the tag is the submission's own and the same after a restart", () => {
    expect(submissionTagId({ ...tag })).toBe(tagId);
    expect(submissionTagId({ ...tag, submission: 2 })).not.toBe(tagId);
    expect(submissionTagId({ ...tag, shard: "00001-a2" })).not.toBe(tagId);
    expect(parseCustomId("customer-1")).toBeNull();
  });

  test("limits: 100,000 requests, mixed models, a request queue across the account", () => {
    const limits = anthropic.limits(anthropic.options.parse({ max_enqueued_requests: 8000 }));
    expect(limits).toMatchObject({
      maxRequests: 100_000,
      batchKey: [],
      queue: { counts: "requests", per: "account" },
      maxEnqueued: 8000,
    });
    expect(limits.maxBytes).toBeLessThan(256_000_000);
  });
});

describe("outputs", () => {
  const message = (content: unknown[]) => ({ type: "message", content });

  test("the text of the text blocks", () => {
    const m = message([
      { type: "text", text: "Hello, " },
      { type: "text", text: "world" },
    ]);
    expect(extractOutput(m, { endpoint: "", json: false })).toEqual({ ok: true, output: "Hello, world" });
  });

  test("JSON output: output_format json_schema parses the text, a forced tool gives its input", () => {
    const body = { model: "m", max_tokens: 5, messages: [] };
    const structured = { ...body, output_config: { format: { type: "json_schema", schema: {} } } };
    const beta = { ...body, output_format: { type: "json_schema", schema: {} } };
    const forced = { ...body, tool_choice: { type: "tool", name: "label" }, tools: [] };
    for (const b of [structured, beta, forced])
      expect(encodeRequest({ custom_id: "x", url: "", body: b }).json).toBe(true);
    expect(extractOutput(message([{ type: "text", text: '{"a":1}' }]), { endpoint: "", json: true })).toEqual(
      {
        ok: true,
        output: { a: 1 },
      },
    );
    const call = message([{ type: "tool_use", id: "t", name: "label", input: { label: "spam" } }]);
    expect(extractOutput(call, { endpoint: "", json: true })).toEqual({
      ok: true,
      output: { label: "spam" },
    });
    expect(extractOutput(message([{ type: "text", text: "nope" }]), { endpoint: "", json: true }).ok).toBe(
      false,
    );
  });

  test("usage: every input token in input_tokens, cache reads and writes named", () => {
    expect(
      toUsage({
        input_tokens: 10,
        output_tokens: 5,
        cache_read_input_tokens: 100,
        cache_creation_input_tokens: 20,
      }),
    ).toEqual({
      input_tokens: 130,
      output_tokens: 5,
      total_tokens: 135,
      cached_tokens: 100,
      cache_creation_tokens: 20,
    });
  });
});

describe("result lines", () => {
  const line = (result: unknown, id = `${tagId}-3`) => ({ custom_id: id, result });

  test("succeeded, errored (invalid_request final, others retried), canceled, expired", () => {
    const message = { model: "claude-haiku-4-5-20251001", usage: { input_tokens: 3, output_tokens: 4 } };
    expect(toResultItem(line({ type: "succeeded", message }), tagId, "l")).toMatchObject({
      kind: "success",
      index: 3,
      model: "claude-haiku-4-5-20251001",
      usage: { input_tokens: 3, output_tokens: 4 },
    });
    const errored = (type: string) => ({
      type: "errored",
      error: { type: "error", error: { type, message: `${type}!` } },
    });
    expect(toResultItem(line(errored("invalid_request_error")), tagId, "l")).toMatchObject({
      kind: "failure",
      error: { code: "invalid_request_error", message: "invalid_request_error!", status_code: 400 },
      retryable: false,
    });
    expect(toResultItem(line(errored("overloaded_error")), tagId, "l")).toMatchObject({ retryable: true });
    expect(toResultItem(line({ type: "canceled" }), tagId, "l")).toMatchObject({
      error: { code: "batch_cancelled" },
      retryable: true,
    });
    expect(toResultItem(line({ type: "expired" }), tagId, "l")).toMatchObject({
      error: { code: "batch_expired" },
      retryable: true,
    });
  });

  test("a line of another submission is never taken for one of ours", () => {
    const other = submissionTagId({ ...tag, submission: 9 });
    expect(toResultItem(line({ type: "expired" }, `${other}-3`), tagId, "l").kind).toBe("unreadable");
    expect(toResultItem(line({ type: "expired" }, "3"), tagId, "l").kind).toBe("unreadable");
  });
});

test("the package has no source file over 400 lines", () => {
  for (const f of ["client", "connection", "format", "locate", "retry", "snapshot"]) {
    const lines = readFileSync(new URL(`../src/${f}.ts`, import.meta.url), "utf8").split("\n").length;
    expect(lines).toBeLessThan(400);
  }
});
