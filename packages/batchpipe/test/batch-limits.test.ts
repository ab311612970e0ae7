// The provider's per-batch limits that are not the request count: OpenAI's 50,000 embedding inputs
// (array inputs count each item). Shards are sealed under them, so no batch fails them. Real CLI in a
// child process, the openai provider over HTTP against the emulator (which enforces them as OpenAI does).
import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  batchpipe,
  type EmulatorProcess,
  readJsonl,
  records,
  startEmulatorProcess,
  tempDir,
  writePipeline,
} from "./support/harness.js";

let emu: EmulatorProcess | undefined;
afterEach(async () => {
  await emu?.close();
  emu = undefined;
});

function embeddingsPipeline(dir: string, baseUrl: string, records: number, perRecord: number): string {
  const lines: string[] = [];
  for (let i = 1; i <= records; i++)
    lines.push(
      JSON.stringify({ id: `r${i}`, texts: Array.from({ length: perRecord }, (_, j) => `t${i}-${j}`) }),
    );
  fs.writeFileSync(path.join(dir, "data.jsonl"), `${lines.join("\n")}\n`);
  const spec = path.join(dir, "pipeline.yaml");
  fs.writeFileSync(
    spec,
    [
      "version: 1",
      "name: emb",
      `provider: { use: openai, base_url: "${baseUrl}" }`,
      "source: { use: jsonl, path: ./data.jsonl }",
      "transform:",
      "  endpoint: /v1/embeddings",
      '  id: "{{ id }}"',
      '  body: { model: text-embedding-3-small, input: "{{ texts }}", dimensions: 2 }',
      "batch: { poll_interval: 50ms }",
      "sinks: [{ use: jsonl, path: ./out/results.jsonl }]",
      "errors: [{ use: jsonl, path: ./out/errors.jsonl }]",
      "",
    ].join("\n"),
  );
  return spec;
}

describe("per-batch limits besides the request count", () => {
  it("600 embedding requests of 100 inputs each (60,000 inputs): sealed in 2 shards under OpenAI's 50,000, all succeed", async () => {
    emu = await startEmulatorProcess({ timeScale: 1 });
    const dir = tempDir();
    const spec = embeddingsPipeline(dir, emu.url, 600, 100);
    const plan = await batchpipe(["plan", spec, "--json"], { cwd: dir });
    expect(plan.code, plan.stderr).toBe(0);
    const shards = (JSON.parse(plan.stdout) as { shards: { requests: number }[] }).shards;
    expect(shards.map((s) => s.requests)).toEqual([500, 100]);
    const run = await batchpipe(["run", spec, "--json"], { cwd: dir, timeoutMs: 120_000 });
    expect(run.code, run.stderr).toBe(0);
    expect(readJsonl(path.join(dir, "out/results.jsonl"))).toHaveLength(600);
    expect((await emu.state()).counters.batches_failed ?? 0).toBe(0);
  }, 150_000);

  for (const [limit, code, setting] of [
    [{ maxBatchLines: 10 }, "too_many_tasks", "batch.max_requests"],
    [{ maxBatchBytes: 2000 }, "file_too_large", "batch.max_bytes"],
  ] as const) {
    it(`a batch that fails validation as a whole with ${code} is not resubmitted as is: the run stops naming ${setting}`, async () => {
      emu = await startEmulatorProcess({ timeScale: 1, ...limit });
      const dir = tempDir();
      fs.writeFileSync(path.join(dir, "data.jsonl"), records(20));
      const spec = writePipeline(dir, { baseUrl: emu.url, batch: { poll_interval: "50ms" } });
      const run = await batchpipe(["run", spec, "--json"], { cwd: dir, timeoutMs: 60_000 });
      expect(run.code, run.stderr).toBe(1);
      const error = run.events.find((e) => e.type === "error") as {
        code: string;
        message: string;
        hint: string;
      };
      expect(error.code).toBe("PROVIDER_FAILED");
      expect(error.message).toMatch(
        new RegExp(
          `^batch \\S+ of shard 00001 \\(20 requests, [\\d,]+ bytes\\) failed validation as a whole with ${code}: `,
        ),
      );
      expect(error.hint).toContain(`Set ${setting} below what the provider allows`);
      expect((await emu.state()).counters.batches_created).toBe(1);
      // no record was failed for it: the run resumes once the shards are smaller
      expect(
        fs.existsSync(path.join(dir, "out/errors.jsonl"))
          ? readJsonl(path.join(dir, "out/errors.jsonl"))
          : [],
      ).toEqual([]);
    }, 90_000);
  }
});
