import { afterEach, describe, expect, it } from "vitest";
import { chatLine, type Harness, readLinesOf, startHarness, submit, waitForBatch } from "./helpers.js";

let h: Harness;
afterEach(async () => h?.close());

const long = "word ".repeat(2000); // 10,000 characters: 2,500 tokens echoed without a cap

/** custom_id → [finish or status, completion tokens, characters of text] */
async function outcomes(lines: unknown[], endpoint = "/v1/chat/completions") {
  const created = await submit(h, lines, endpoint);
  const { batch } = await waitForBatch(h.client, created.id);
  const out: Record<string, unknown[]> = {};
  for (const line of await readLinesOf(h.client, batch.output_file_id)) {
    const body = line.response?.body;
    if (endpoint === "/v1/responses") {
      out[line.custom_id] = [
        body.status,
        body.usage.output_tokens,
        body.output_text.length,
        body.incomplete_details,
      ];
    } else {
      const choice = body.choices[0];
      const text = choice.message ? choice.message.content : choice.text;
      out[line.custom_id] = [choice.finish_reason, body.usage.completion_tokens, text.length];
    }
  }
  return { out, usage: batch.usage };
}

describe("a request's output cap (max_tokens, max_completion_tokens, max_output_tokens)", () => {
  it("chat and completions answers stop at the cap with finish_reason length, and bill the cap", async () => {
    h = await startHarness();
    const { out, usage } = await outcomes([
      chatLine("max-tokens", long, "gpt-4o-mini", { max_tokens: 5 }),
      chatLine("max-completion-tokens", long, "gpt-4o-mini", { max_completion_tokens: 7 }),
      chatLine("under-the-cap", "short text", "gpt-4o-mini", { max_tokens: 5 }),
      chatLine("no-cap", long),
    ]);
    expect(out).toEqual({
      "max-tokens": ["length", 5, 20],
      "max-completion-tokens": ["length", 7, 28],
      "under-the-cap": ["stop", 3, 10],
      "no-cap": ["stop", 2500, 10_000],
    });
    expect(usage?.output_tokens).toBe(5 + 7 + 3 + 2500);

    const completions = await outcomes(
      [
        {
          custom_id: "c",
          method: "POST",
          url: "/v1/completions",
          body: { model: "davinci-002", prompt: long, max_tokens: 4 },
        },
      ],
      "/v1/completions",
    );
    expect(completions.out).toEqual({ c: ["length", 4, 16] });
  });

  it("a responses answer past max_output_tokens is incomplete", async () => {
    h = await startHarness();
    const line = (id: string, extra: object) => ({
      custom_id: id,
      method: "POST",
      url: "/v1/responses",
      body: { model: "gpt-4o-mini", input: long, ...extra },
    });
    const { out } = await outcomes(
      [line("cut", { max_output_tokens: 16 }), line("whole", {})],
      "/v1/responses",
    );
    expect(out).toEqual({
      cut: ["incomplete", 16, 64, { reason: "max_output_tokens" }],
      whole: ["completed", 2500, 10_000, null],
    });
  });
});
