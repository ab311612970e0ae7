/**
 * The fake model honours the request's output-token limit as the API does: chat's
 * max_completion_tokens (else max_tokens), completions' max_tokens and responses'
 * max_output_tokens cut the answer (4 characters a token), the usage is the limit, and the answer
 * says why it ended. Batch lines and the synchronous endpoints answer alike.
 */
import { afterEach, describe, expect, it } from "vitest";
import { chatLine, type Harness, readLinesOf, startHarness, submit, waitForBatch } from "./helpers.js";

let h: Harness;
afterEach(async () => h?.close());

const TEXT = "the box was big and the product was fine"; // 40 characters: 10 tokens

describe("output-token limits", () => {
  it("chat: past max_tokens the content is cut and finish_reason is length; within it, stop", async () => {
    h = await startHarness();
    const created = await submit(h, [
      chatLine("cut", TEXT, "gpt-4o-mini", { max_tokens: 3 }),
      chatLine("fits", TEXT, "gpt-4o-mini", { max_tokens: 10 }),
      // max_completion_tokens is the newer name and wins
      chatLine("newer", TEXT, "gpt-4o-mini", { max_tokens: 100, max_completion_tokens: 2 }),
      chatLine("none", TEXT),
    ]);
    const { batch } = await waitForBatch(h.client, created.id);
    const lines = Object.fromEntries(
      (await readLinesOf(h.client, batch.output_file_id)).map((l) => [l.custom_id, l.response?.body]),
    );
    const answer = (id: string) => ({
      content: lines[id].choices[0].message.content,
      finish: lines[id].choices[0].finish_reason,
      tokens: lines[id].usage.completion_tokens,
    });
    expect(answer("cut")).toEqual({ content: TEXT.slice(0, 12), finish: "length", tokens: 3 });
    expect(answer("fits")).toEqual({ content: TEXT, finish: "stop", tokens: 10 });
    expect(answer("newer")).toEqual({ content: TEXT.slice(0, 8), finish: "length", tokens: 2 });
    expect(answer("none")).toEqual({ content: TEXT, finish: "stop", tokens: 10 });
    // the batch's usage sums what was answered
    expect(batch.usage?.output_tokens).toBe(3 + 10 + 2 + 10);
  });

  it("responses past max_output_tokens: incomplete, with the reason; completions past max_tokens: length", async () => {
    h = await startHarness();
    const response = await h.client.responses.create({
      model: "gpt-4o-mini",
      input: TEXT,
      max_output_tokens: 4,
    });
    expect(response).toMatchObject({
      status: "incomplete",
      incomplete_details: { reason: "max_output_tokens" },
      output: [{ status: "incomplete", content: [{ type: "output_text", text: TEXT.slice(0, 16) }] }],
      usage: { output_tokens: 4 },
    });
    expect(response.output_text).toBe(TEXT.slice(0, 16));
    const whole = await h.client.responses.create({
      model: "gpt-4o-mini",
      input: TEXT,
      max_output_tokens: 16,
    });
    expect(whole).toMatchObject({ status: "completed", incomplete_details: null, output_text: TEXT });

    const completion = await h.client.completions.create({
      model: "davinci-002",
      prompt: TEXT,
      max_tokens: 5,
    });
    expect(completion.choices[0]).toMatchObject({ text: TEXT.slice(0, 20), finish_reason: "length" });
    expect(completion.usage?.completion_tokens).toBe(5);
  });

  it("a cut JSON answer no longer parses, as with the real API", async () => {
    h = await startHarness();
    const chat = await h.client.chat.completions.create({
      model: "gpt-4o-mini",
      messages: [{ role: "user", content: TEXT }],
      response_format: { type: "json_object" },
      max_tokens: 4,
    });
    // 4 tokens: the first 16 characters of {"echo":"the box was big…"}
    expect(chat.choices[0]).toMatchObject({
      finish_reason: "length",
      message: { content: '{"echo":"the box' },
    });
    expect(() => JSON.parse(chat.choices[0]!.message.content!)).toThrow(SyntaxError);
  });
});
