// An answer Anthropic stopped at the model's context window (stop_reason
// "model_context_window_exceeded": the input left less room than max_tokens) was told to "raise
// max_tokens", the hint meant for answers cut at max_tokens; raising it cannot help there.
import { describe, expect, test } from "vitest";
import anthropic from "../src/index.js";

const answer = (stop_reason: string) => ({
  type: "message",
  role: "assistant",
  model: "claude-sonnet-4-5",
  content: [{ type: "text", text: '{"summary": "the input was so long that' }],
  stop_reason,
  usage: { input_tokens: 190_000, output_tokens: 10_000 },
});
const json = { endpoint: "/v1/messages", json: true };

describe("the hint of a JSON answer that does not parse because it was cut short", () => {
  test("cut at the context window: shorten the input, not raise max_tokens", () => {
    const result = anthropic.output(answer("model_context_window_exceeded"), json);
    expect(result.ok).toBe(false);
    expect(!result.ok && result.message).toMatchInlineSnapshot(
      `"the model's output is not valid JSON (the answer was cut short at the model's context window: shorten the input or pick a model with a larger window; raising max_tokens cannot help): Unterminated string in JSON at position 39"`,
    );
  });

  test("cut at max_tokens: raise it (as before)", () => {
    const result = anthropic.output(answer("max_tokens"), json);
    expect(!result.ok && result.message).toMatch(/cut short at max_tokens: raise it/);
  });

  test("a text answer cut at the window is a success with its partial output, counted as cut", () => {
    expect(anthropic.output(answer("model_context_window_exceeded"), { ...json, json: false })).toEqual({
      ok: true,
      output: '{"summary": "the input was so long that',
      cut: "max_tokens",
    });
  });
});
