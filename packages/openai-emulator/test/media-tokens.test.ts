/**
 * PDFs and audio in the prompt are billed input tokens, not 0: a PDF 3,000 a page plus the model's
 * image of unknown size, audio 10 a second (the rules batchpipe's estimate uses, README "Token
 * estimator"). Through the official SDKs, over HTTP: the same request with and without the part.
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

/** a PDF with `pages` page objects (and the /Pages tree, which is no page) */
function pdf(pages: number): string {
  const kids = Array.from({ length: pages }, (_, i) => `${i + 3} 0 R`).join(" ");
  let text = `%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n2 0 obj << /Type /Pages /Kids [${kids}] /Count ${pages} >> endobj\n`;
  for (let i = 0; i < pages; i++) text += `${i + 3} 0 obj << /Type/Page /Parent 2 0 R >> endobj\n`;
  return Buffer.from(`${text}%%EOF\n`).toString("base64");
}

/** a PCM WAV of `seconds` at 16 kHz, 16 bit, mono (32,000 bytes a second) */
function wav(seconds: number): string {
  const data = 32_000 * seconds;
  const b = Buffer.alloc(44 + data);
  b.write("RIFF", 0, "latin1");
  b.writeUInt32LE(36 + data, 4);
  b.write("WAVEfmt ", 8, "latin1");
  b.writeUInt32LE(16, 16);
  b.writeUInt16LE(1, 20);
  b.writeUInt16LE(1, 22);
  b.writeUInt32LE(16_000, 24);
  b.writeUInt32LE(32_000, 28);
  b.writeUInt16LE(2, 32);
  b.writeUInt16LE(16, 34);
  b.write("data", 36, "latin1");
  b.writeUInt32LE(data, 40);
  return b.toString("base64");
}

const TEXT = "Summarise the attachment";

async function chatPromptTokens(model: string, part?: OpenAI.Chat.ChatCompletionContentPart) {
  const content: OpenAI.Chat.ChatCompletionContentPart[] = [{ type: "text", text: TEXT }];
  if (part) content.push(part);
  const answer = await openai.chat.completions.create({ model, messages: [{ role: "user", content }] });
  return answer.usage!.prompt_tokens;
}

const pdfPart = (b64: string): OpenAI.Chat.ChatCompletionContentPart => ({
  type: "file",
  file: { filename: "doc.pdf", file_data: `data:application/pdf;base64,${b64}` },
});

it("chat: a PDF file part counts 3,000 a page plus the model's image of unknown size", async () => {
  const text = await chatPromptTokens("gpt-4o");
  expect((await chatPromptTokens("gpt-4o", pdfPart(pdf(1)))) - text).toBe(3000 + 765);
  expect((await chatPromptTokens("gpt-4o", pdfPart(pdf(3)))) - text).toBe(3 * (3000 + 765));
  expect((await chatPromptTokens("gpt-4o-mini", pdfPart(pdf(2)))) - text).toBe(2 * (3000 + 25_501));
  // no page object to see (compressed object streams): a page per 32 KB, at least one
  const opaque = Buffer.alloc(70_000, 7).toString("base64");
  expect((await chatPromptTokens("gpt-4o", pdfPart(opaque))) - text).toBe(3 * (3000 + 765));
  expect((await chatPromptTokens("gpt-4o", pdfPart(Buffer.from("%PDF").toString("base64")))) - text).toBe(
    3000 + 765,
  );
});

it("chat: other file data counts as its text (text media) or 0.25 tokens a byte", async () => {
  const text = await chatPromptTokens("gpt-4o");
  const file = (mediaType: string, data: Buffer): OpenAI.Chat.ChatCompletionContentPart => ({
    type: "file",
    file: { filename: "f", file_data: `data:${mediaType};base64,${data.toString("base64")}` },
  });
  expect((await chatPromptTokens("gpt-4o", file("text/plain", Buffer.from("x".repeat(400))))) - text).toBe(
    100,
  );
  expect((await chatPromptTokens("gpt-4o", file("application/zip", Buffer.alloc(4000)))) - text).toBe(1000);
});

it("chat: input_audio counts 10 tokens a second (WAV from its header, else 32 kbps)", async () => {
  const model = "gpt-4o-audio-preview";
  const text = await chatPromptTokens(model);
  const audio = (data: string, format: "wav" | "mp3"): OpenAI.Chat.ChatCompletionContentPart => ({
    type: "input_audio",
    input_audio: { data, format },
  });
  expect((await chatPromptTokens(model, audio(wav(3), "wav"))) - text).toBe(30);
  // 8,000 bytes of MP3 at 4,000 bytes a second: 2 s
  expect((await chatPromptTokens(model, audio(Buffer.alloc(8000).toString("base64"), "mp3"))) - text).toBe(
    20,
  );
});

it("responses: an input_file with PDF data counts as chat's file part", async () => {
  const tokens = async (withFile: boolean) => {
    const content: OpenAI.Responses.ResponseInputContent[] = [{ type: "input_text", text: TEXT }];
    if (withFile)
      content.push({
        type: "input_file",
        filename: "doc.pdf",
        file_data: `data:application/pdf;base64,${pdf(2)}`,
      });
    const answer = await openai.responses.create({ model: "gpt-4o", input: [{ role: "user", content }] });
    return answer.usage!.input_tokens;
  };
  expect((await tokens(true)) - (await tokens(false))).toBe(2 * (3000 + 765));
});

it("Anthropic: a PDF document block counts 3,000 a page plus an image (1,600); a text document its text", async () => {
  const tokens = async (content: Anthropic.MessageParam["content"]) => {
    const message = await anthropic.messages.create({
      model: "claude-sonnet-4-5",
      max_tokens: 50,
      messages: [{ role: "user", content }],
    });
    return message.usage.input_tokens;
  };
  const text = await tokens([{ type: "text", text: TEXT }]);
  const document = (pages: number): Anthropic.DocumentBlockParam => ({
    type: "document",
    source: { type: "base64", media_type: "application/pdf", data: pdf(pages) },
  });
  expect((await tokens([{ type: "text", text: TEXT }, document(2)])) - text).toBe(2 * (3000 + 1600));
  const plain: Anthropic.DocumentBlockParam = {
    type: "document",
    source: { type: "text", media_type: "text/plain", data: "y".repeat(800) },
  };
  expect((await tokens([{ type: "text", text: TEXT }, plain])) - text).toBe(200);
});
