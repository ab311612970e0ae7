/**
 * Images in the prompt are billed input tokens: a fixed figure per image (a 1024×1024 image by each
 * provider's published rule, as batchpipe's estimate counts an image of unknown size), not 0.
 * Through the official SDKs, over HTTP: the same request with and without the image.
 */
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { afterAll, beforeAll, expect, it } from "vitest";
import { createEmulator, type Emulator } from "../src/index.js";

let emu: Emulator;
let openai: OpenAI;
let anthropic: Anthropic;
beforeAll(async () => {
  emu = await createEmulator({ seed: 3 });
  openai = new OpenAI({ baseURL: emu.url, apiKey: "test", maxRetries: 0 });
  anthropic = new Anthropic({ baseURL: emu.baseUrl, apiKey: "test", maxRetries: 0 });
});
afterAll(async () => {
  await emu?.close();
});

// a 1×1 PNG: its size does not matter to the fixed rule
const PNG =
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==";
const DATA_URL = `data:image/png;base64,${PNG}`;
const TEXT = "Describe the picture";

async function chatPromptTokens(model: string, image?: { detail?: "low" | "high" | "auto" }) {
  const content: OpenAI.Chat.ChatCompletionContentPart[] = [{ type: "text", text: TEXT }];
  if (image) content.push({ type: "image_url", image_url: { url: DATA_URL, ...image } });
  const answer = await openai.chat.completions.create({ model, messages: [{ role: "user", content }] });
  return answer.usage!.prompt_tokens;
}

it("chat: an image_url part counts 765 (detail low: 85), by the model's rule", async () => {
  const text = await chatPromptTokens("gpt-4o");
  expect(text).toBeGreaterThan(0);
  expect((await chatPromptTokens("gpt-4o", {})) - text).toBe(765);
  expect((await chatPromptTokens("gpt-4o", { detail: "high" })) - text).toBe(765);
  expect((await chatPromptTokens("gpt-4o", { detail: "low" })) - text).toBe(85);
  expect((await chatPromptTokens("gpt-4o-mini", {})) - text).toBe(25_501);
  expect((await chatPromptTokens("gpt-4o-mini", { detail: "low" })) - text).toBe(2833);
  expect((await chatPromptTokens("gpt-4.1-mini", { detail: "low" })) - text).toBe(1659);
  expect((await chatPromptTokens("gpt-4.1-nano", {})) - text).toBe(2520);
  expect((await chatPromptTokens("o4-mini", {})) - text).toBe(1762);
});

it("responses: an input_image counts as chat's image_url does", async () => {
  const tokens = async (withImage: boolean) => {
    const content: OpenAI.Responses.ResponseInputContent[] = [{ type: "input_text", text: TEXT }];
    if (withImage) content.push({ type: "input_image", image_url: DATA_URL, detail: "auto" });
    const answer = await openai.responses.create({ model: "gpt-4o", input: [{ role: "user", content }] });
    return answer.usage!.input_tokens;
  };
  expect((await tokens(true)) - (await tokens(false))).toBe(765);
});

it("Anthropic: an image block counts 1,600, also inside a tool_result", async () => {
  const image = {
    type: "image" as const,
    source: { type: "base64" as const, media_type: "image/png" as const, data: PNG },
  };
  const tokens = async (content: Anthropic.MessageParam["content"]) => {
    const message = await anthropic.messages.create({
      model: "claude-sonnet-4-5",
      max_tokens: 50,
      messages: [{ role: "user", content }],
    });
    return message.usage.input_tokens;
  };
  const text = await tokens([{ type: "text", text: TEXT }]);
  expect((await tokens([{ type: "text", text: TEXT }, image])) - text).toBe(1600);
  const twice = await tokens([{ type: "text", text: TEXT }, image, image]);
  expect(twice - text).toBe(3200);
  const result = (content: Anthropic.ToolResultBlockParam["content"]) =>
    tokens([{ type: "tool_result", tool_use_id: "toolu_1", content }]);
  expect((await result([image])) - (await result([]))).toBe(1600);
});
