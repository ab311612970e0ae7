// `batchpipe try` costs an Anthropic answer's prompt-cache writes at the cache-write price (1.25x the
// input price), as a run does, instead of at the input price.
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { batchpipe, tempDir } from "./support/harness.js";

describe("try with Anthropic prompt caching", () => {
  it("prices the tokens written to the cache at 1.25x the live input price", async () => {
    const dir = tempDir();
    fs.writeFileSync(
      path.join(dir, "data.jsonl"),
      `${JSON.stringify({ id: "t1", text: "my order is late" })}\n`,
    );
    const spec = path.join(dir, "pipeline.yaml");
    const policy = "Follow the policy. ".repeat(40).trim();
    fs.writeFileSync(
      spec,
      [
        "version: 1",
        "name: try-cache-writes",
        "provider: { use: emulator, api: anthropic }",
        "source: { use: jsonl, path: ./data.jsonl }",
        "transform:",
        '  id: "{{ id }}"',
        "  body:",
        "    model: claude-haiku-4-5",
        "    max_tokens: 50",
        `    system: [{ type: text, text: "${policy}", cache_control: { type: ephemeral } }]`,
        '    messages: [{ role: user, content: "{{ text }}" }]',
        "sinks: [{ use: jsonl, path: ./out/results.jsonl }]",
        "",
      ].join("\n"),
    );
    const tried = await batchpipe(["try", spec, "-n", "1", "--json"], { cwd: dir });
    expect(tried.code).toBe(0);
    const item = JSON.parse(tried.stdout.trim().split("\n")[0]!) as {
      result: { usage: { input_tokens: number; output_tokens: number; cache_creation_tokens: number } };
      cost: number;
    };
    const u = item.result.usage;
    expect(u.cache_creation_tokens).toBeGreaterThan(50);
    // claude-haiku-4-5 live: $1 / $5 per 1M, cache writes $1.25
    const expected =
      ((u.input_tokens - u.cache_creation_tokens) * 1 +
        u.cache_creation_tokens * 1.25 +
        u.output_tokens * 5) /
      1e6;
    expect(item.cost).toBeCloseTo(expected, 12);
  });
});
