// A run whose requests went to a model without a known price (not in the built-in table, nor under
// `pricing:`) spent tokens that cannot be costed: its report, `runs`, `status` and the --json report
// say the cost is unknown for those requests instead of "$0.0000".
import fs from "node:fs";
import path from "node:path";
import type { Emulator } from "@batchpipe/openai-emulator";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { batchpipe, records, report, startEmulator, tempDir, writePipeline } from "./support/harness.js";

let emu: Emulator;
beforeAll(async () => {
  emu = await startEmulator({ models: ["gpt-*", "acme-*"] });
});
afterAll(async () => {
  await emu?.close();
});

/** 12 records to `model` (no `pricing:`) */
function pipelineFor(dir: string, name: string, model: string): string {
  fs.writeFileSync(path.join(dir, "data.jsonl"), records(12));
  const spec = writePipeline(dir, { baseUrl: emu.url, name, maxTokens: 20 });
  fs.writeFileSync(spec, fs.readFileSync(spec, "utf8").replace("model: gpt-4o-mini", `model: ${model}`));
  return spec;
}

describe("the cost of requests to a model without a known price", () => {
  it("is unknown in the report, runs and status, not $0.0000; the --json report counts them", async () => {
    const dir = tempDir();
    const spec = pipelineFor(dir, "acme-unpriced-run", "acme-large");
    const json = await batchpipe(["run", spec, "--json"], { cwd: dir });
    expect(json.code).toBe(0);
    const r = report(json) as { inputTokens: number; cost: number; unpriced: number };
    expect(r.inputTokens).toBeGreaterThan(0);
    expect(r.cost).toBe(0);
    expect(r.unpriced).toBe(12);
    // the progress events say so as they go
    const last = json.events.filter((e) => e.type === "progress").at(-1) as {
      snapshot: { unpriced: number };
    };
    expect(last.snapshot.unpriced).toBe(12);

    // sent again (--no-cache): paid again, at a price still unknown
    const text = await batchpipe(["run", spec, "--no-cache"], { cwd: dir });
    expect(text.code).toBe(0);
    expect(text.stdout.split("\n").find((l) => l.startsWith("  cost"))).toMatchInlineSnapshot(
      `"  cost             unknown: 12 requests to a model without a known price (add it under \`pricing:\` in the spec)"`,
    );

    const runs = await batchpipe(["runs", spec], { cwd: dir });
    expect(runs.stdout.split("\n").map((l) => l.split(/ {2,}/)[7])).toMatchInlineSnapshot(`
      [
        "cost",
        "unknown",
        "unknown",
        undefined,
      ]
    `);
    const status = await batchpipe(["status", spec], { cwd: dir });
    expect(
      status.stdout
        .split("\n")
        .find((l) => l.includes("tokens"))
        ?.replace(/[\d,]+ (in|out)/g, "N $1"),
    ).toMatchInlineSnapshot(
      `"  tokens N in / N out · cost unknown: 12 requests to a model without a known price (add it under \`pricing:\` in the spec)"`,
    );
  });

  it("a priced model's run has no unpriced requests and its cost reads as before", async () => {
    const dir = tempDir();
    const spec = pipelineFor(dir, "acme-priced-run", "gpt-4o-mini");
    const json = await batchpipe(["run", spec, "--json"], { cwd: dir });
    const r = report(json) as { cost: number; unpriced: number };
    expect(r.unpriced).toBe(0);
    expect(r.cost).toBeGreaterThan(0);
    const runs = await batchpipe(["runs", spec], { cwd: dir });
    expect(runs.stdout).toMatch(/ \$0\.\d{4,} /);
  });
});
