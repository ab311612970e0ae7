// plan's worst case under batch.deadline (every request through the live API) of a pipeline whose
// requests name several models (Anthropic batches mix them): every model's price is known, so the
// worst case is known too — the live prices of the same requests, twice the batch estimate.
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { batchpipe, tempDir } from "./support/harness.js";

describe("plan's live worst case with batches that mix models", () => {
  it("is the requests' cost at live prices, not unknown", async () => {
    const dir = tempDir();
    let data = "";
    for (let i = 0; i < 12; i++)
      data += `${JSON.stringify({ id: `t${i}`, text: `ticket ${i}`, model: i % 3 ? "claude-haiku-4-5" : "claude-sonnet-4-5" })}\n`;
    fs.writeFileSync(path.join(dir, "data.jsonl"), data);
    const spec = path.join(dir, "pipeline.yaml");
    fs.writeFileSync(
      spec,
      [
        "version: 1",
        "name: mixed-deadline",
        "provider: { use: emulator, api: anthropic }",
        "source: { use: jsonl, path: ./data.jsonl }",
        "transform:",
        '  id: "{{ id }}"',
        '  body: { model: "{{ model }}", max_tokens: 50, messages: [{ role: user, content: "{{ text }}" }] }',
        "batch: { deadline: 6h }",
        "sinks: [{ use: jsonl, path: ./out/results.jsonl }]",
        "",
      ].join("\n"),
    );
    const plan = await batchpipe(["plan", spec, "--json"], { cwd: dir });
    expect(plan.code).toBe(0);
    const json = JSON.parse(plan.stdout) as {
      totals: { estimatedCost: number };
      shards: { model: string }[];
      liveWorstCase: number | null;
    };
    expect(json.shards.map((s) => s.model)).toEqual([""]);
    expect(json.totals.estimatedCost).toBeGreaterThan(0);
    // Anthropic's batch prices are half the live ones
    expect(json.liveWorstCase).toBeCloseTo(2 * json.totals.estimatedCost, 12);
    const text = await batchpipe(["plan", spec], { cwd: dir });
    expect(text.stdout).toMatch(/passes before any batch ends: up to \$0\.\d+ at live prices/);
  });
});
