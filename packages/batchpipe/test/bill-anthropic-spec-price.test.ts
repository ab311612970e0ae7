// A Claude model priced under `pricing:` (one the built-in table lacks) bills its prompt-cache writes
// as Anthropic does, at 1.25x its input price (2x for an hour), and its reads at `cached_input`: the
// run's cost equals the sum over its output lines' usage at those rates.
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { batchpipe, report, tempDir } from "./support/harness.js";

type Row = {
  response: {
    usage: {
      input_tokens: number;
      output_tokens: number;
      cache_read_input_tokens: number;
      cache_creation: { ephemeral_5m_input_tokens: number; ephemeral_1h_input_tokens: number };
    };
  };
};

describe("a Claude model priced under pricing:", () => {
  it("prices cache writes at 1.25x (5 minutes) and 2x (an hour) its batch input price", async () => {
    const dir = tempDir();
    let data = "";
    for (let i = 0; i < 6; i++)
      data += `${JSON.stringify({ id: `t${i}`, text: `document ${i}`, ttl: i % 2 ? "1h" : "5m" })}\n`;
    fs.writeFileSync(path.join(dir, "data.jsonl"), data);
    const spec = path.join(dir, "pipeline.yaml");
    const context = "The long shared context of this document. ".repeat(30).trim();
    fs.writeFileSync(
      spec,
      [
        "version: 1",
        "name: spec-priced-claude",
        "provider: { use: emulator, api: anthropic, emulator: { timeScale: 3600 } }",
        "source: { use: jsonl, path: ./data.jsonl }",
        "transform:",
        '  id: "{{ id }}"',
        "  body:",
        "    model: claude-custom-9",
        "    max_tokens: 20",
        `    system: [{ type: text, text: "{{ text }}: ${context}", cache_control: { type: ephemeral, ttl: "{{ ttl }}" } }]`,
        '    messages: [{ role: user, content: "Summarise {{ text }}" }]',
        "batch: { poll_interval: 50ms }",
        "pricing:",
        "  claude-custom-9: { input: 4, output: 20, cached_input: 0.4 }",
        "sinks: [{ use: jsonl, path: ./out/results.jsonl, fields: all }]",
        "",
      ].join("\n"),
    );
    const run = await batchpipe(["run", spec, "--json"], { cwd: dir });
    expect(run.code).toBe(0);
    const rows = fs
      .readFileSync(path.join(dir, "out/results.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Row);
    // at batch prices (half the list): input $2, output $10, reads $0.20, writes $2.50 / $4 per 1M
    let expected = 0;
    for (const { response } of rows) {
      const u = response.usage;
      const { ephemeral_5m_input_tokens: w5, ephemeral_1h_input_tokens: w1 } = u.cache_creation;
      expected +=
        (u.input_tokens * 2 + u.cache_read_input_tokens * 0.2 + w5 * 2.5 + w1 * 4 + u.output_tokens * 10) /
        1e6;
    }
    expect((report(run) as { cost: number }).cost).toBeCloseTo(expected, 12);
  });
});
