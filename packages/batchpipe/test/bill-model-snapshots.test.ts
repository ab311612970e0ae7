// Model names that are not the table's own: gpt-4o's first snapshot (2024-05-13) kept its own, higher
// price ($5 / $15 per 1M list, not gpt-4o's $2.50 / $10), and Anthropic's "-latest" aliases name the
// model they point to. plan prices each as the provider bills it.
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { batchpipe, tempDir } from "./support/harness.js";

async function plan(provider: string, model: string) {
  const dir = tempDir();
  fs.writeFileSync(path.join(dir, "data.jsonl"), `${JSON.stringify({ id: "a", text: "hello there" })}\n`);
  const spec = path.join(dir, "pipeline.yaml");
  fs.writeFileSync(
    spec,
    [
      "version: 1",
      "name: snapshots",
      `provider: ${provider}`,
      "source: { use: jsonl, path: ./data.jsonl }",
      "transform:",
      '  id: "{{ id }}"',
      `  body: { model: ${model}, max_tokens: 100, messages: [{ role: user, content: "{{ text }}" }] }`,
      "sinks: [{ use: jsonl, path: ./out/results.jsonl }]",
      "",
    ].join("\n"),
  );
  const out = await batchpipe(["plan", spec, "--json"], { cwd: dir });
  expect(out.code).toBe(0);
  return (
    JSON.parse(out.stdout) as {
      totals: { estimatedInputTokens: number; estimatedOutputTokens: number; estimatedCost: number | null };
    }
  ).totals;
}

describe("prices of snapshots and aliases", () => {
  it("gpt-4o-2024-05-13 at its own batch price ($2.50 / $7.50 per 1M)", async () => {
    const t = await plan("{ use: emulator }", "gpt-4o-2024-05-13");
    expect(t.estimatedCost).toBeCloseTo(
      (t.estimatedInputTokens * 2.5 + t.estimatedOutputTokens * 7.5) / 1e6,
      12,
    );
  });

  it("claude-3-5-haiku-latest as claude-3-5-haiku ($0.40 / $2 per 1M in a batch)", async () => {
    const t = await plan("{ use: emulator, api: anthropic }", "claude-3-5-haiku-latest");
    expect(t.estimatedCost).not.toBeNull();
    expect(t.estimatedCost).toBeCloseTo(
      (t.estimatedInputTokens * 0.4 + t.estimatedOutputTokens * 2) / 1e6,
      12,
    );
  });
});
