// Costs under a cent print with two significant digits in the run's report, status, runs, plan and
// try: 50 embeddings that cost $0.0000084 printed as "$0.0000" (try: "$0.000000"), as if free.
// And a rerun answered from the result cache for a model without a known price said "saved
// $0.0000": what those requests cost is unknown, and it says so. Real CLI in child processes, the
// emulator over HTTP.
import fs from "node:fs";
import path from "node:path";
import type { Emulator } from "@batchpipe/openai-emulator";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { batchpipe, records, report, startEmulator, tempDir, writePipeline } from "./support/harness.js";

let emu: Emulator;
beforeAll(async () => {
  emu = await startEmulator({ models: ["gpt-*", "text-embedding-*", "acme-*"] });
});
afterAll(async () => {
  await emu?.close();
});

/** `n` embeddings of short texts through text-embedding-3-small ($0.01 per 1M tokens in a batch) */
function embeddingsPipeline(n: number): { dir: string; spec: string } {
  const dir = tempDir();
  fs.writeFileSync(path.join(dir, "data.jsonl"), records(n));
  const spec = path.join(dir, "pipeline.yaml");
  fs.writeFileSync(
    spec,
    [
      "version: 1",
      "name: small-costs",
      `provider: { use: openai, base_url: ${emu.url} }`,
      "source: { use: jsonl, path: ./data.jsonl }",
      "transform:",
      "  endpoint: /v1/embeddings",
      '  id: "{{ id }}"',
      '  body: { model: text-embedding-3-small, input: "{{ text }}" }',
      "batch: { poll_interval: 50ms }",
      "sinks: [{ use: jsonl, path: ./out/results.jsonl }]",
      "",
    ].join("\n"),
  );
  return { dir, spec };
}

const line = (text: string, start: string) => text.split("\n").find((l) => l.startsWith(start));
/** a cost under $0.0001 with its first two significant digits, e.g. $0.0000084 */
const SMALL = String.raw`\$0\.0000\d*[1-9]\d?`;

describe("small costs", () => {
  it("50 embeddings: their cost has significant digits in the report, status, runs and plan", async () => {
    const { dir, spec } = embeddingsPipeline(50);
    const plan = await batchpipe(["plan", spec], { cwd: dir });
    expect(line(plan.stdout, "  estimated cost")).toMatch(
      new RegExp(`^ {2}estimated cost {11}${SMALL} at batch prices$`),
    );

    const run = await batchpipe(["run", spec], { cwd: dir });
    expect(run.code, run.stderr).toBe(0);
    const cost = line(run.stdout, "  cost");
    expect(cost).toMatch(new RegExp(`^ {2}cost {13}${SMALL} at batch prices \\(estimated ${SMALL}\\)$`));
    const paid = /\$([\d.]+) at batch/.exec(cost!)![1]!;

    const status = await batchpipe(["status", spec], { cwd: dir });
    expect(line(status.stdout, "  tokens")).toMatch(new RegExp(`cost \\$${paid} \\(estimated ${SMALL}\\)$`));
    const runs = await batchpipe(["runs", spec], { cwd: dir });
    expect(runs.stdout).toContain(` $${paid} `);
  });

  it("try: one short embedding costs $0.000000040 at live prices, not $0.000000", async () => {
    const { dir, spec } = embeddingsPipeline(1);
    const run = await batchpipe(["try", spec, "-n", "1"], { cwd: dir });
    expect(run.code, run.stderr).toBe(0);
    expect(line(run.stdout, "answer")).toMatch(new RegExp(` · ${SMALL}$`));
    expect(run.stdout).toMatch(new RegExp(` · ${SMALL} at live prices\n`));
  });

  it("a rerun answered from the cache for a model without a known price: the saving is unknown", async () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, "data.jsonl"), records(12));
    const spec = writePipeline(dir, { baseUrl: emu.url, name: "acme-cached", maxTokens: 20 });
    fs.writeFileSync(spec, fs.readFileSync(spec, "utf8").replace("model: gpt-4o-mini", "model: acme-large"));
    const first = await batchpipe(["run", spec, "--json"], { cwd: dir });
    expect(report(first)).toMatchObject({ succeeded: 12, unpriced: 12 });

    const plan = await batchpipe(["plan", spec], { cwd: dir });
    expect(line(plan.stdout, "  12 requests")).toMatchInlineSnapshot(
      `"  12 requests are answered from the result cache, not sent (saving unknown: a model without a known price; run --no-cache sends them)"`,
    );
    const rerun = await batchpipe(["run", spec], { cwd: dir });
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(line(rerun.stdout, "  cached")).toMatchInlineSnapshot(
      `"  cached           12 (answered from the result cache: 12 requests not sent, saving unknown: a model without a known price)"`,
    );
    expect(line(rerun.stderr, "  read 12")).toMatchInlineSnapshot(
      `"  read 12 records → nothing to send · 12 requests answered from the cache (saving unknown: a model without a known price) · ~0 input tokens · est. $0.0000"`,
    );
  });
});
