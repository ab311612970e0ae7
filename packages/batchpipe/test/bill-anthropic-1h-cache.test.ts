// Anthropic bills prompt-cache writes with a one-hour TTL at 2x the input price (5-minute ones at
// 1.25x); with batches, whose requests often run more than 5 minutes apart, the hour is the usual
// choice. A run's cost prices each kind of write at its own rate, equal to the sum over its output
// lines' usage; the rows' usage says how many writes were for an hour.
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { batchpipe, report, tempDir } from "./support/harness.js";

type Row = {
  usage: { cache_creation_tokens: number; cache_creation_1h_tokens?: number };
  response: {
    usage: {
      input_tokens: number;
      output_tokens: number;
      cache_read_input_tokens: number;
      cache_creation: { ephemeral_5m_input_tokens: number; ephemeral_1h_input_tokens: number };
    };
  };
};

describe("Anthropic prompt-cache writes with a one-hour TTL", () => {
  it("cost 2x the batch input price in the run's cost; 5-minute ones 1.25x", async () => {
    const dir = tempDir();
    let data = "";
    for (let i = 0; i < 8; i++)
      data += `${JSON.stringify({ id: `t${i}`, text: `document ${i}`, ttl: i % 2 ? "1h" : "5m" })}\n`;
    fs.writeFileSync(path.join(dir, "data.jsonl"), data);
    const spec = path.join(dir, "pipeline.yaml");
    const context = "The long shared context of this document. ".repeat(30).trim();
    fs.writeFileSync(
      spec,
      [
        "version: 1",
        "name: cache-1h",
        "provider: { use: emulator, api: anthropic, emulator: { timeScale: 3600 } }",
        "source: { use: jsonl, path: ./data.jsonl }",
        "transform:",
        '  id: "{{ id }}"',
        "  body:",
        "    model: claude-haiku-4-5",
        "    max_tokens: 20",
        `    system: [{ type: text, text: "{{ text }}: ${context}", cache_control: { type: ephemeral, ttl: "{{ ttl }}" } }]`,
        '    messages: [{ role: user, content: "Summarise {{ text }}" }]',
        "batch: { poll_interval: 50ms }",
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
    // claude-haiku-4-5 at batch prices: input $0.50, output $2.50 per 1M; reads 0.1x, writes 1.25x / 2x input
    let expected = 0;
    let hour = 0;
    for (const row of rows) {
      const u = row.response.usage;
      const { ephemeral_5m_input_tokens: w5, ephemeral_1h_input_tokens: w1 } = u.cache_creation;
      hour += w1;
      expect(row.usage.cache_creation_1h_tokens ?? 0).toBe(w1);
      expected +=
        (u.input_tokens * 0.5 +
          u.cache_read_input_tokens * 0.05 +
          w5 * 0.625 +
          w1 * 1 +
          u.output_tokens * 2.5) /
        1e6;
    }
    expect(hour).toBeGreaterThan(500);
    expect((report(run) as { cost: number }).cost).toBeCloseTo(expected, 12);
  });
});
