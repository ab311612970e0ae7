// plan said nothing when batch.deadline's worst case (every request answered live, at live prices)
// was over batch.max_cost: the batch estimate fit the cap, so plan looked clean, and a run whose
// deadline passed stopped with BUDGET_EXCEEDED part-way through the live answers. plan now warns,
// with both figures and what to do.
import { describe, expect, it } from "vitest";
import { batchpipe, tempDir, writeDataset, writePipeline } from "./support/harness.js";

function planned(batch: Record<string, string | number>) {
  const dir = tempDir();
  writeDataset(dir, 60);
  const spec = writePipeline(dir, {
    name: "live-cap",
    baseUrl: "http://127.0.0.1:9/v1",
    maxTokens: 20,
    batch,
  });
  return { dir, spec };
}

describe("plan: batch.deadline's live worst case against batch.max_cost", () => {
  it("over the cap: a warning with the figures and what to do", async () => {
    const first = planned({ deadline: "6h" });
    const json = JSON.parse((await batchpipe(["plan", first.spec, "--json"], { cwd: first.dir })).stdout) as {
      totals: { estimatedCost: number };
      liveWorstCase: number;
    };
    // gpt-4o-mini's live prices are twice its batch prices: a cap between the two
    const cap = Number((json.totals.estimatedCost * 1.5).toFixed(6));
    expect(json.liveWorstCase).toBeGreaterThan(cap);
    const { dir, spec } = planned({ deadline: "6h", max_cost: cap });
    const plan = await batchpipe(["plan", spec], { cwd: dir });
    expect(plan.code, plan.stderr).toBe(0);
    const line = plan.stdout.split("\n").find((l) => l.includes("⚠") && l.includes("live"));
    expect(line).toBeDefined();
    expect(line).toContain("over batch.max_cost");
    expect(line).toContain("BUDGET_EXCEEDED");
    expect(line).toMatch(/raise batch\.max_cost to \$0\.\d+/);
  });

  it("within the cap: no warning", async () => {
    const { dir, spec } = planned({ deadline: "6h", max_cost: 10 });
    const plan = await batchpipe(["plan", spec], { cwd: dir });
    expect(plan.code, plan.stderr).toBe(0);
    expect(plan.stdout).not.toContain("⚠");
  });
});
