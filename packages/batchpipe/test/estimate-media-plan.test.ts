// plan and batch.max_cost with images in the requests: each record carries a ~1 MB base64 PNG of
// 2048×4096. An Anthropic image block was counted as the text of its base64, ~708,000 input tokens
// a request: plan projected ~440× the cost, said every request "may not fit" claude-haiku-4-5's
// 200k window, and a run under max_cost: 0.05 was refused. OpenAI's image_url was a flat 765
// whatever the size. From the image's header: 1,105 tokens (gpt-4o's tiles), 1,600 (Claude's cap).
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { batchpipe, report, tempDir } from "./support/harness.js";
import { png } from "./support/media-bytes.js";

const RECORDS = 3;
/** a 2048×4096 PNG padded to ~1 MB, as base64 (~1.4 MB) */
const IMAGE = png(2048, 4096, 1_000_000).toString("base64");

/** RECORDS records with the image; `part` is the YAML of the image part of the user message */
function pipeline(dir: string, o: { api: "openai" | "anthropic"; model: string; maxCost?: number }): string {
  let data = "";
  for (let i = 0; i < RECORDS; i++)
    data += `${JSON.stringify({ id: `p${i}`, text: `photo ${i}`, image: IMAGE })}\n`;
  fs.writeFileSync(path.join(dir, "data.jsonl"), data);
  const part =
    o.api === "openai"
      ? '{ type: image_url, image_url: { url: "data:image/png;base64,{{ image }}" } }'
      : '{ type: image, source: { type: base64, media_type: image/png, data: "{{ image }}" } }';
  const lines = [
    "version: 1",
    `name: media-${o.api}`,
    `provider: { use: emulator, api: ${o.api}, emulator: { timeScale: 3600 } }`,
    "source: { use: jsonl, path: ./data.jsonl }",
    "transform:",
    '  id: "{{ id }}"',
    "  body:",
    `    model: ${o.model}`,
    "    max_tokens: 20",
    `    messages: [{ role: user, content: [{ type: text, text: "Describe {{ text }}" }, ${part}] }]`,
    `batch: { poll_interval: 50ms${o.maxCost === undefined ? "" : `, max_cost: ${o.maxCost}`} }`,
    "sinks: [{ use: jsonl, path: ./out/results.jsonl }]",
  ];
  const spec = path.join(dir, "pipeline.yaml");
  fs.writeFileSync(spec, `${lines.join("\n")}\n`);
  return spec;
}

interface PlanJson {
  totals: { estimatedInputTokens: number; estimatedCost: number };
  mayNotFit: { count: number };
}

async function plan(api: "openai" | "anthropic", model: string): Promise<PlanJson> {
  const dir = tempDir();
  const run = await batchpipe(["plan", pipeline(dir, { api, model }), "--json"], { cwd: dir });
  expect(run.code).toBe(0);
  return JSON.parse(run.stdout) as PlanJson;
}

describe("plan and max_cost with a ~1 MB image in every request", () => {
  it("plan estimates the image from its size: gpt-4o's tiles, Claude's pixels", async () => {
    const openai = await plan("openai", "gpt-4o");
    const claude = await plan("anthropic", "claude-haiku-4-5");
    // per request: the image (1105 / 1600) and ~20 tokens of text and framing
    const perRequest = (p: PlanJson) => p.totals.estimatedInputTokens / RECORDS;
    expect({
      openai: perRequest(openai),
      claude: perRequest(claude),
      mayNotFit: [openai.mayNotFit.count, claude.mayNotFit.count],
    }).toEqual({
      openai: expect.toSatisfy((n: number) => n >= 1105 && n < 1150),
      claude: expect.toSatisfy((n: number) => n >= 1600 && n < 1650),
      mayNotFit: [0, 0],
    });
    // claude-haiku-4-5 at $0.50 / $2.50 per 1M in a batch: ~$0.0026 for the 3 requests, where it was ~$1.06
    expect(claude.totals.estimatedCost).toBeLessThan(0.01);
  });

  it("a run under max_cost: 0.05 is not refused, and ends with every record", async () => {
    const dir = tempDir();
    const spec = pipeline(dir, { api: "anthropic", model: "claude-haiku-4-5", maxCost: 0.05 });
    const run = await batchpipe(["run", spec, "--json"], { cwd: dir });
    expect(run.stderr).not.toContain("BUDGET_EXCEEDED");
    expect(run.code).toBe(0);
    expect(report(run)).toMatchObject({ succeeded: RECORDS, failed: 0 });
  });
});
