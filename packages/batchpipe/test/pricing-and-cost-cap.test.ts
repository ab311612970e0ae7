// `pricing:` and `batch.max_cost` through the real CLI: a made-up model priced in the spec is costed
// by plan and by the run's report at the batch discount; a run whose whole estimate is over max_cost,
// or whose cost cannot be known, is refused before anything is uploaded, and runs once it is raised.
import fs from "node:fs";
import path from "node:path";
import type { Emulator } from "@batchpipe/openai-emulator";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  batchesOf,
  batchpipe,
  records,
  report,
  startEmulator,
  tempDir,
  writePipeline,
} from "./support/harness.js";

let emu: Emulator;
beforeAll(async () => {
  emu = await startEmulator({ models: ["gpt-*", "acme-*"] });
});
afterAll(async () => {
  await emu?.close();
});

/** 20 records to the model `acme-large`, 100 output tokens each; `pricing` and `batch` lines appended */
function acmePipeline(dir: string, name: string, o: { pricing?: boolean; maxCost?: number } = {}): string {
  fs.writeFileSync(path.join(dir, "data.jsonl"), records(20));
  const spec = writePipeline(dir, {
    baseUrl: emu.url,
    name,
    maxTokens: 100,
    batch: o.maxCost === undefined ? {} : { max_cost: o.maxCost },
  });
  const text = fs.readFileSync(spec, "utf8").replace("model: gpt-4o-mini", "model: acme-large");
  fs.writeFileSync(
    spec,
    `${text}${o.pricing === false ? "" : "pricing:\n  acme-large: { input: 200, output: 400, batch_discount: 0.5 }\n"}`,
  );
  return spec;
}

describe("pricing and the cost cap", () => {
  it("plan costs a model priced under pricing: at the batch discount", async () => {
    const dir = tempDir();
    const spec = acmePipeline(dir, "acme-plan");
    const plan = await batchpipe(["plan", spec, "--json"], { cwd: dir });
    expect(plan.code).toBe(0);
    const json = JSON.parse(plan.stdout) as {
      totals: { estimatedInputTokens: number; estimatedOutputTokens: number; estimatedCost: number };
    };
    const t = json.totals;
    expect(t.estimatedOutputTokens).toBe(2000);
    // list $200 / $400 per 1M, half price in a batch
    expect(t.estimatedCost).toBeCloseTo((t.estimatedInputTokens * 100 + 2000 * 200) / 1e6, 10);
    const text = await batchpipe(["plan", spec], { cwd: dir });
    expect(text.stdout).toMatch(/estimated cost {11}\$0\.\d{2} at batch prices/);
  });

  it("without a price, plan says how to set one", async () => {
    const dir = tempDir();
    const spec = acmePipeline(dir, "acme-unpriced", { pricing: false });
    const plan = await batchpipe(["plan", spec], { cwd: dir });
    expect(plan.stdout).toContain(
      "estimated cost           unknown (a model's price is not known: add it under `pricing:` in the spec)",
    );
  });

  it("max_cost below the whole estimate refuses before any upload; raised, the run resumes and its report is costed", async () => {
    const dir = tempDir();
    const spec = acmePipeline(dir, "acme-cap", { maxCost: 0.05 });
    const uploadsBefore = emu.state().files.length;
    const first = await batchpipe(["run", spec], { cwd: dir });
    expect(first.code).toBe(1);
    expect(first.stderr).toMatch(
      /the run's estimated cost \$0\.\d{2} is above batch\.max_cost \(\$0\.05\); nothing was submitted/,
    );
    expect(first.stderr).toContain("BUDGET_EXCEEDED");
    expect(batchesOf(emu, "acme-cap")).toHaveLength(0);
    expect(emu.state().files.length).toBe(uploadsBefore);

    fs.writeFileSync(spec, fs.readFileSync(spec, "utf8").replace("max_cost: 0.05", "max_cost: 5"));
    const second = await batchpipe(["run", spec, "--json"], { cwd: dir });
    expect(second.code).toBe(0);
    expect(second.events[0]).toMatchObject({ type: "run_started", resumed: true });
    const r = report(second) as {
      succeeded: number;
      inputTokens: number;
      outputTokens: number;
      cost: number;
    };
    expect(r.succeeded).toBe(20);
    expect(r.cost).toBeGreaterThan(0);
    expect(r.cost).toBeCloseTo((r.inputTokens * 100 + r.outputTokens * 200) / 1e6, 10);
  });

  it("max_cost with a model whose price is unknown refuses before any upload, with the pricing: fix", async () => {
    const dir = tempDir();
    const spec = acmePipeline(dir, "acme-unknown", { pricing: false, maxCost: 1 });
    const run = await batchpipe(["run", spec], { cwd: dir });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(
      "batch.max_cost is set but the price of acme-large is unknown, so the run's cost cannot be capped; nothing was submitted",
    );
    expect(run.stderr).toContain('pricing: { "acme-large": { input: 0.5, output: 1.5 } }');
    expect(batchesOf(emu, "acme-unknown")).toHaveLength(0);
  });
});
