/**
 * `batchpipe view`'s money figures use the pipeline's prices: a model priced under `pricing:` (and a
 * built-in model whose price the spec overrides) is costed as plan and the run's report cost it, in
 * the cost by model and on a record's page; a run with requests to a model without a known price
 * says how many.
 */
import fs from "node:fs";
import path from "node:path";
import { loadPipeline } from "@batchpipe/core";
import type { Emulator } from "@batchpipe/openai-emulator";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  cli,
  officialPlugins,
  startEmulator,
  tempDir,
  writePipeline,
} from "../../batchpipe/test/support/harness.js";
import { startViewServer, type ViewServer } from "../src/index.js";

let emulator: Emulator;
const servers: ViewServer[] = [];

beforeAll(async () => {
  emulator = await startEmulator({ models: ["gpt-*", "acme-*"] });
});
afterAll(async () => {
  for (const server of servers) await server.close();
  await emulator?.close();
});

/** runs 8 records to `model` with `pricing` lines appended; the view server over it */
async function runAndView(
  model: string,
  pricing: string[],
): Promise<{ server: ViewServer; key: string; run: string }> {
  const dir = tempDir("bp-view-pricing-");
  let data = "";
  for (let i = 0; i < 8; i++) data += `${JSON.stringify({ id: `r${i}`, text: `review ${i}` })}\n`;
  fs.writeFileSync(path.join(dir, "data.jsonl"), data);
  const spec = writePipeline(dir, { baseUrl: emulator.url, name: `view-${model}`, maxTokens: 30 });
  const text = fs.readFileSync(spec, "utf8").replace("model: gpt-4o-mini", `model: ${model}`);
  fs.writeFileSync(
    spec,
    `${text}${pricing.length ? `pricing:\n${pricing.map((l) => `  ${l}\n`).join("")}` : ""}`,
  );
  const run = await cli(["run", spec], { env: { OPENAI_API_KEY: "sk-test" } });
  expect(run.code).toBe(0);
  const pipeline = await loadPipeline(spec, {
    env: { OPENAI_API_KEY: "sk-test" },
    builtins: officialPlugins,
  });
  const server = await startViewServer({ pipelines: [{ pipeline }] });
  servers.push(server);
  const runs = (await (await fetch(new URL("/api/runs", server.url))).json()) as {
    pipelines: { key: string; runs: { id: string }[] }[];
  };
  return { server, key: runs.pipelines[0]!.key, run: runs.pipelines[0]!.runs[0]!.id };
}

async function api<T>(
  v: { server: ViewServer; key: string; run: string },
  route: string,
  ref?: string,
): Promise<T> {
  const url = new URL(route, v.server.url);
  url.searchParams.set("pipeline", v.key);
  url.searchParams.set("run", v.run);
  if (ref) url.searchParams.set("ref", ref);
  return (await (await fetch(url)).json()) as T;
}

type RunPage = {
  run: { estimatedCost: number | null; cost: number; unpriced: number };
  costByModel: { model: string; estimated: number | null; actual: number | null }[];
};
type RecordPage = { row: { usage: { input_tokens: number; output_tokens: number } }; cost: number | null };

describe("the view's cost figures", () => {
  for (const [model, pricing, input, output] of [
    ["acme-large", ["acme-large: { input: 200, output: 400 }"], 100, 200],
    ["gpt-4o-mini", ["gpt-4o-mini: { input: 20, output: 40 }"], 10, 20],
  ] as const) {
    it(`cost ${model} at the spec's price (${input}/${output} per 1M at batch prices)`, async () => {
      const v = await runAndView(model, [...pricing]);
      const page = await api<RunPage>(v, "/api/run");
      expect(page.costByModel).toHaveLength(1);
      expect(page.costByModel[0]!.estimated).toBeCloseTo(page.run.estimatedCost!, 12);
      expect(page.costByModel[0]!.actual).toBeCloseTo(page.run.cost, 12);
      expect(page.run.unpriced).toBe(0);
      const record = await api<RecordPage>(v, "/api/record", "s:0");
      const u = record.row.usage;
      expect(record.cost).toBeCloseTo((u.input_tokens * input + u.output_tokens * output) / 1e6, 12);
    });
  }

  it("says how many requests of a run went to a model without a known price", async () => {
    const v = await runAndView("acme-small", []);
    const page = await api<RunPage>(v, "/api/run");
    expect(page.run).toMatchObject({ estimatedCost: null, cost: 0, unpriced: 8 });
    expect((await api<RecordPage>(v, "/api/record", "s:0")).cost).toBeNull();
  });
});
