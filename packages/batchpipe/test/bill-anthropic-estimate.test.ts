// plan's input-token estimate of Anthropic Messages requests counts the top-level `system` prompt
// (a string or text blocks), which Anthropic bills as input like the messages: a long system prompt
// beside short messages was left out, and plan priced a fraction of the input.
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { batchpipe, tempDir } from "./support/harness.js";

/** 10 short records to claude-haiku-4-5 with `system` (YAML, indented under body) */
function anthropicPipeline(dir: string, system: string[]): string {
  let data = "";
  for (let i = 0; i < 10; i++) data += `${JSON.stringify({ id: `t${i}`, text: `ticket ${i}` })}\n`;
  fs.writeFileSync(path.join(dir, "data.jsonl"), data);
  const spec = path.join(dir, "pipeline.yaml");
  const lines = [
    "version: 1",
    "name: anthropic-estimate",
    "provider: { use: emulator, api: anthropic }",
    "source: { use: jsonl, path: ./data.jsonl }",
    "transform:",
    '  id: "{{ id }}"',
    "  body:",
    "    model: claude-haiku-4-5",
    "    max_tokens: 10",
    ...system.map((l) => `    ${l}`),
    '    messages: [{ role: user, content: "{{ text }}" }]',
    "sinks: [{ use: jsonl, path: ./out/results.jsonl }]",
  ];
  fs.writeFileSync(spec, `${lines.join("\n")}\n`);
  return spec;
}

async function planInputTokens(system: string[]): Promise<number> {
  const dir = tempDir();
  const plan = await batchpipe(["plan", anthropicPipeline(dir, system), "--json"], { cwd: dir });
  expect(plan.code).toBe(0);
  return (JSON.parse(plan.stdout) as { totals: { estimatedInputTokens: number } }).totals
    .estimatedInputTokens;
}

/** 300 words: about 300 tokens */
const POLICY = "policy ".repeat(300).trim();

describe("plan's estimate of an Anthropic request's system prompt", () => {
  it("counts a system string and system text blocks as input, per request", async () => {
    const none = await planInputTokens([]);
    const text = await planInputTokens([`system: "${POLICY}"`]);
    const blocks = await planInputTokens([
      `system: [{ type: text, text: "${POLICY}", cache_control: { type: ephemeral } }]`,
    ]);
    // 10 requests, ~300 tokens of system prompt each
    expect({ text: text - none, blocks: blocks - none }).toEqual({
      text: expect.toSatisfy((n: number) => n >= 2900 && n <= 3300),
      blocks: expect.toSatisfy((n: number) => n >= 2900 && n <= 3300),
    });
  });
});
