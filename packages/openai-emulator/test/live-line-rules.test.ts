/**
 * Line rules on the live routes (what `batchpipe try` and batch.deadline's live fallback call): a
 * live request carries no custom_id, so a rule names it by OpenAI's `user` or Anthropic's
 * `metadata.user_id`. Through the official SDKs, over HTTP.
 */
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { afterEach, expect, it } from "vitest";
import { createEmulator, type Emulator, type LineRule } from "../src/index.js";

let emu: Emulator | undefined;
afterEach(async () => {
  await emu?.close();
  emu = undefined;
});

const TEXT = "the box was big and the product was fine"; // 40 characters: 20 when stopped

async function start(lineRules: LineRule[], maxRetries = 0) {
  emu = await createEmulator({ seed: 7, lineRules });
  return {
    openai: new OpenAI({ baseURL: emu.url, apiKey: "test", maxRetries }),
    anthropic: new Anthropic({ baseURL: emu.baseUrl, apiKey: "test", maxRetries }),
  };
}

const chat = (user?: string) => ({
  model: "gpt-4o-mini",
  messages: [{ role: "user" as const, content: TEXT }],
  ...(user === undefined ? {} : { user }),
});

it("chat: the request whose user a rule names is stopped by the filter or fails as the batch line would", async () => {
  const { openai } = await start([
    { customIds: ["r2"], stop: "content_filter" },
    { customIds: ["r3"], error: "context_length_exceeded" },
  ]);
  const stopped = await openai.chat.completions.create(chat("r2"));
  expect(stopped.choices[0]).toMatchObject({
    finish_reason: "content_filter",
    message: { content: TEXT.slice(0, 20) },
  });
  expect(stopped.usage?.completion_tokens).toBe(5);

  const error = await openai.chat.completions.create(chat("r3")).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(OpenAI.BadRequestError);
  expect((error as InstanceType<typeof OpenAI.APIError>).code).toBe("context_length_exceeded");
  expect((error as InstanceType<typeof OpenAI.APIError>).error).toMatchObject({
    type: "invalid_request_error",
    param: "messages",
  });

  // another user, and none: answered in full
  for (const body of [chat("r4"), chat()]) {
    const whole = await openai.chat.completions.create(body);
    expect(whole.choices[0]).toMatchObject({ finish_reason: "stop", message: { content: TEXT } });
  }
});

it("responses and embeddings: the same rules by user", async () => {
  const { openai } = await start([
    { customIdPattern: "^stop-", stop: "content_filter" },
    { customIds: ["gone"], error: "model_not_found" },
  ]);
  const response = await openai.responses.create({ model: "gpt-4o-mini", input: TEXT, user: "stop-1" });
  expect(response).toMatchObject({
    status: "incomplete",
    incomplete_details: { reason: "content_filter" },
    output_text: TEXT.slice(0, 20),
  });
  const error = await openai.embeddings
    .create({ model: "text-embedding-3-small", input: "x", user: "gone" })
    .catch((e: unknown) => e);
  expect(error).toBeInstanceOf(OpenAI.NotFoundError);
  expect((error as InstanceType<typeof OpenAI.APIError>).code).toBe("model_not_found");
});

it("attempts: a rule that fails only the first execution lets the SDK's retry through", async () => {
  const { openai } = await start([{ customIdPattern: "^flaky", error: "server_error", attempts: 1 }], 1);
  const answer = await openai.chat.completions.create(chat("flaky"));
  expect(answer.choices[0]?.finish_reason).toBe("stop");
  expect(emu!.state().calls["POST /v1/chat/completions"]).toBe(2);
  // a second id fails its first call: without retries, the 500 in OpenAI's words
  const once = new OpenAI({ baseURL: emu!.url, apiKey: "test", maxRetries: 0 });
  const error = await once.chat.completions.create(chat("flaky-2")).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(OpenAI.InternalServerError);
});

it("a request without an id is matched only by rules that name no custom_id; oddities are batch-only", async () => {
  const { openai } = await start([
    { customIdPattern: ".*", error: "server_error" },
    { customIds: ["odd"], oddity: "malformed" },
    { stop: "content_filter" },
  ]);
  const anonymous = await openai.chat.completions.create(chat());
  expect(anonymous.choices[0]?.finish_reason).toBe("content_filter");
  const odd = await openai.chat.completions.create(chat("odd")).catch((e: unknown) => e);
  // named: the first rule (every id) fails it
  expect(odd).toBeInstanceOf(OpenAI.InternalServerError);

  await emu!.close();
  const second = await start([{ customIds: ["odd"], oddity: "malformed" }]);
  const answered = await second.openai.chat.completions.create(chat("odd"));
  expect(answered.choices[0]).toMatchObject({ finish_reason: "stop", message: { content: TEXT } });
});

it("Anthropic POST /v1/messages: rules by metadata.user_id, refusal and errors in Anthropic's words", async () => {
  const { anthropic } = await start([
    { customIds: ["r2"], stop: "content_filter" },
    { customIds: ["r3"], error: "context_length_exceeded" },
  ]);
  const message = (userId: string) =>
    anthropic.messages.create({
      model: "claude-sonnet-4-5",
      max_tokens: 256,
      messages: [{ role: "user", content: TEXT }],
      metadata: { user_id: userId },
    });
  const refused = await message("r2");
  expect(refused.stop_reason).toBe("refusal");
  expect(refused.content).toEqual([{ type: "text", text: TEXT.slice(0, 20) }]);

  const error = await message("r3").catch((e: unknown) => e);
  expect(error).toBeInstanceOf(Anthropic.BadRequestError);
  expect((error as InstanceType<typeof Anthropic.APIError>).error).toMatchObject({
    type: "error",
    error: { type: "invalid_request_error", message: "prompt is too long: 210000 tokens > 200000 maximum" },
  });

  const whole = await message("r4");
  expect(whole.stop_reason).toBe("end_turn");
  expect(whole.content).toEqual([{ type: "text", text: TEXT }]);
});
