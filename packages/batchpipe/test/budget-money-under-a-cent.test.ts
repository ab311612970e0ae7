// The engine's batch.max_cost messages write money as the CLI's report does: a run of a few cheap
// requests costs a few millionths of a dollar, which "$0.0000" (four decimals) hid. Both messages,
// the estimate refused before anything is sent and the spend that stops a run between batches.
import fs from "node:fs";
import path from "node:path";
import { formatMoney } from "@batchpipe/core";
import type { Emulator } from "@batchpipe/openai-emulator";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { batchpipe, startEmulator, tempDir, writePipeline } from "./support/harness.js";

let emu: Emulator;
beforeAll(async () => {
  emu = await startEmulator();
});
afterAll(async () => {
  await emu?.close();
});

/** `count` records of `chars` characters to gpt-4o-mini at a made-up price of 0.001 / 0.01 per 1M tokens */
function cheapPipeline(
  dir: string,
  o: { count: number; chars: number; batch: Record<string, string | number> },
) {
  let data = "";
  for (let i = 1; i <= o.count; i++)
    data += `${JSON.stringify({ id: `r${i}`, text: `${i} ${"word ".repeat(o.chars / 5)}` })}\n`;
  fs.writeFileSync(path.join(dir, "data.jsonl"), data);
  const spec = writePipeline(dir, { baseUrl: emu.url, name: "cheap", prompt: "{{ text }}", batch: o.batch });
  fs.appendFileSync(spec, "pricing:\n  gpt-4o-mini: { input: 0.001, output: 0.01 }\n");
  return spec;
}

/** two significant digits under a cent: "$0.0000012", never "$0.0000" */
const UNDER_A_CENT = /\$0\.0{4,}[1-9]\d/;

describe("batch.max_cost messages under a cent", () => {
  it("the estimate refused before any upload shows its two significant digits", async () => {
    const dir = tempDir();
    const spec = cheapPipeline(dir, { count: 20, chars: 400, batch: { max_cost: 0.000001 } });
    const plan = await batchpipe(["plan", spec, "--json"], { cwd: dir });
    const estimated = (JSON.parse(plan.stdout) as { totals: { estimatedCost: number } }).totals.estimatedCost;
    expect(estimated).toBeGreaterThan(0.000001);
    expect(estimated).toBeLessThan(0.00005);
    const run = await batchpipe(["run", spec], { cwd: dir });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(
      `the run's estimated cost ${formatMoney(estimated)} is above batch.max_cost ($0.0000010); nothing was submitted`,
    );
    expect(formatMoney(estimated)).toMatch(UNDER_A_CENT);
  });

  it("the spend that stops a run between batches shows its two significant digits", async () => {
    const dir = tempDir();
    // no max_tokens: each request is estimated at 256 output tokens, and the emulator echoes its
    // ~2,000-token message, so the first batch spends ~8x its estimate; one shard at a time
    // (max_enqueued_tokens), so the second is checked against that spend and refused
    const spec = cheapPipeline(dir, {
      count: 2,
      chars: 8000,
      batch: { max_requests: 1, max_enqueued_tokens: 2500, max_cost: 0.000005 },
    });
    const run = await batchpipe(["run", spec], { cwd: dir });
    expect(run.code).toBe(1);
    const spent = /spent so far (\$\S+)/.exec(run.stderr)?.[1];
    expect(spent, run.stderr).toMatch(UNDER_A_CENT);
    expect(run.stderr).toContain("the next batch would take the run past batch.max_cost ($0.0000050)");
    // the figure is the run's spend as status keeps it
    const status = await batchpipe(["status", spec, "--json"], { cwd: dir });
    const cost = (JSON.parse(status.stdout) as { run: { counters: { cost: number } } }).run.counters.cost;
    expect(spent).toBe(formatMoney(cost));
  });
});
