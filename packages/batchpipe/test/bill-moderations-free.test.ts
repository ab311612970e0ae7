// OpenAI's moderation models are free: plan prices a /v1/moderations pipeline at $0 instead of
// "unknown (add it under pricing:)", and batch.max_cost no longer refuses it for an unknown price.
import fs from "node:fs";
import path from "node:path";
import type { Emulator } from "@batchpipe/openai-emulator";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { batchpipe, records, report, startEmulator, tempDir, writePipeline } from "./support/harness.js";

let emu: Emulator;
beforeAll(async () => {
  emu = await startEmulator({
    endpoints: ["/v1/chat/completions", "/v1/moderations"],
  });
});
afterAll(async () => {
  await emu?.close();
});

function moderationPipeline(dir: string, model: string): string {
  fs.writeFileSync(path.join(dir, "data.jsonl"), records(6));
  const spec = writePipeline(dir, { baseUrl: emu.url, name: `mod-${model}`, batch: { max_cost: 1 } });
  const text = fs
    .readFileSync(spec, "utf8")
    .replace("endpoint: /v1/chat/completions", "endpoint: /v1/moderations")
    .replace("model: gpt-4o-mini", `model: ${model}`)
    .replace(/ {4}messages: .*\n/, '    input: "{{ text }}"\n');
  fs.writeFileSync(spec, text);
  return spec;
}

describe("moderations", () => {
  for (const model of ["omni-moderation-latest", "omni-moderation-2024-09-26", "text-moderation-latest"]) {
    it(`${model} costs $0 in plan`, async () => {
      const dir = tempDir();
      const plan = await batchpipe(["plan", moderationPipeline(dir, model), "--json"], { cwd: dir });
      expect(plan.code).toBe(0);
      expect(
        (JSON.parse(plan.stdout) as { totals: { estimatedCost: number | null } }).totals.estimatedCost,
      ).toBe(0);
    });
  }

  it("run under max_cost: not refused for an unknown price, costed $0", async () => {
    const dir = tempDir();
    const run = await batchpipe(["run", moderationPipeline(dir, "omni-moderation-latest"), "--json"], {
      cwd: dir,
    });
    expect(run.code).toBe(0);
    expect(report(run)).toMatchObject({ succeeded: 6, cost: 0, estimatedCost: 0, unpriced: 0 });
  });
});
