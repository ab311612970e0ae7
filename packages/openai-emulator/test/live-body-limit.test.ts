/**
 * The live routes take a request body up to OpenAI's documented 50 MB payload limit (a base64
 * image of a few MB is an ordinary live request), and answer past it as the API's edge does: 413
 * with an HTML page. Through the official openai SDK, over HTTP.
 */
import OpenAI from "openai";
import { afterAll, beforeAll, expect, it } from "vitest";
import { createEmulator, type Emulator } from "../src/index.js";

let emu: Emulator;
let client: OpenAI;
beforeAll(async () => {
  emu = await createEmulator({ seed: 5 });
  client = new OpenAI({ baseURL: emu.url, apiKey: "test", maxRetries: 0 });
});
afterAll(async () => {
  await emu?.close();
});

const MB = 1024 * 1024;

/** a chat request whose image is `bytes` of base64 (its content does not matter to the emulator) */
function withImage(bytes: number) {
  return {
    model: "gpt-4o",
    messages: [
      {
        role: "user" as const,
        content: [
          { type: "text" as const, text: "Describe it" },
          { type: "image_url" as const, image_url: { url: `data:image/png;base64,${"A".repeat(bytes)}` } },
        ],
      },
    ],
  };
}

it("a 5 MB base64 image is answered, its image counted in the prompt tokens", async () => {
  const answer = await client.chat.completions.create(withImage(5 * MB));
  expect(answer.choices[0]?.message.content).toBe("Describe it");
  expect(answer.usage?.prompt_tokens).toBeGreaterThan(765);
});

it("a 49 MB request is answered; past 50 MB: 413 with the edge's HTML page, as OpenAI answers", async () => {
  const under = await client.chat.completions.create(withImage(49 * MB));
  expect(under.choices[0]?.finish_reason).toBe("stop");

  const error = await client.chat.completions.create(withImage(51 * MB)).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(OpenAI.APIError);
  const api = error as InstanceType<typeof OpenAI.APIError>;
  expect(api.status).toBe(413);
  expect(api.code).toBeUndefined();
  expect(api.message).toContain("413 Request Entity Too Large");
  // the emulator still answers the next request
  const after = await client.chat.completions.create(withImage(10));
  expect(after.choices[0]?.finish_reason).toBe("stop");
});

it("a chunked body (no content-length) past the limit gets the same 413 once it is read", async () => {
  const chunk = "x".repeat(MB);
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      for (let i = 0; i < 51; i++) controller.enqueue(new TextEncoder().encode(chunk));
      controller.close();
    },
  });
  const response = await fetch(`${emu.url}/chat/completions`, {
    method: "POST",
    headers: { authorization: "Bearer test", "content-type": "application/json" },
    body: stream,
    duplex: "half",
  } as RequestInit);
  expect(response.status).toBe(413);
  expect(response.headers.get("content-type")).toBe("text/html");
  expect(await response.text()).toContain("<title>413 Request Entity Too Large</title>");
});
