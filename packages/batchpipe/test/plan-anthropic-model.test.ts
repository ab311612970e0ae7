// plan's shard table for an Anthropic pipeline showed the model as "-": Anthropic's batches mix
// models, so a shard has no model of its own (its `model` is ""). The table now names the models of
// the shard's requests, as it names the one model of an OpenAI shard; --json lists them as `models`.
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { batchpipe, tempDir } from "./support/harness.js";

function pipeline(dir: string, api: "openai" | "anthropic", models: (i: number) => string): string {
  let data = "";
  for (let i = 0; i < 6; i++)
    data += `${JSON.stringify({ id: `t${i}`, text: `ticket ${i}`, model: models(i) })}\n`;
  fs.writeFileSync(path.join(dir, "data.jsonl"), data);
  const spec = path.join(dir, "pipeline.yaml");
  fs.writeFileSync(
    spec,
    [
      "version: 1",
      `name: plan-model-${api}`,
      `provider: { use: emulator, api: ${api} }`,
      "source: { use: jsonl, path: ./data.jsonl }",
      "transform:",
      '  id: "{{ id }}"',
      '  body: { model: "{{ model }}", max_tokens: 50, messages: [{ role: user, content: "{{ text }}" }] }',
      "sinks: [{ use: jsonl, path: ./out/results.jsonl }]",
      "",
    ].join("\n"),
  );
  return spec;
}

/** the shard table's rows: [shard, model, …] */
function tableRows(stdout: string): string[][] {
  return stdout
    .split("\n")
    .filter((l) => /^ {2}\d{5} /.test(l))
    .map((l) => l.trim().split(/\s{2,}/));
}

describe("plan's model column", () => {
  it("an Anthropic shard shows the model of its requests, as an OpenAI shard does", async () => {
    for (const api of ["openai", "anthropic"] as const) {
      const dir = tempDir();
      const spec = pipeline(dir, api, () => (api === "openai" ? "gpt-4o-mini" : "claude-haiku-4-5"));
      const plan = await batchpipe(["plan", spec], { cwd: dir });
      expect(plan.code, plan.stderr).toBe(0);
      expect(tableRows(plan.stdout).map((r) => r[1])).toEqual([
        api === "openai" ? "gpt-4o-mini" : "claude-haiku-4-5",
      ]);
    }
  });

  it("a shard that mixes models names each (and --json lists them)", async () => {
    const dir = tempDir();
    const spec = pipeline(dir, "anthropic", (i) => (i % 3 ? "claude-haiku-4-5" : "claude-sonnet-4-5"));
    const plan = await batchpipe(["plan", spec], { cwd: dir });
    expect(tableRows(plan.stdout).map((r) => r[1])).toEqual(["claude-sonnet-4-5, claude-haiku-4-5"]);
    const json = JSON.parse((await batchpipe(["plan", spec, "--json"], { cwd: dir })).stdout) as {
      shards: { model: string; models: string[] }[];
    };
    expect(json.shards.map((s) => [s.model, s.models])).toEqual([
      ["", ["claude-sonnet-4-5", "claude-haiku-4-5"]],
    ]);
  });
});
