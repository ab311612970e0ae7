// Anthropic's live Messages API behind `batchpipe try` and `batch.deadline` (the emulator serving
// Anthropic in process): records whose ids do not fit Anthropic's custom_id pattern keep their own
// ids in every row, and the answers are joined by their line in the shard.
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { batchpipe, exactlyOnceInSinks, ONCE, readJsonl, tempDir } from "./support/harness.js";

const ids = (n: number) => Array.from({ length: n }, (_, i) => `ticket/${i + 1}:x`);

function anthropicPipeline(dir: string, batch: string): string {
  fs.writeFileSync(
    path.join(dir, "data.jsonl"),
    ids(12)
      .map((id, i) => `${JSON.stringify({ id, text: `hello ${i + 1}` })}\n`)
      .join(""),
  );
  const spec = path.join(dir, "pipeline.yaml");
  fs.writeFileSync(
    spec,
    [
      "version: 1",
      "name: anthropic-live",
      "provider:",
      "  use: emulator",
      "  api: anthropic",
      // one request per 1,000 s: batches never get anywhere during the test
      "  emulator: { timeScale: 1, latencies: { linesPerSecond: 0.001 } }",
      "source: { use: jsonl, path: ./data.jsonl }",
      "transform:",
      '  id: "{{ id }}"',
      '  body: { model: claude-haiku-4-5, max_tokens: 20, messages: [{ role: user, content: "{{ text }}" }] }',
      `batch: ${batch}`,
      "sinks:",
      "  - { use: jsonl, path: ./out/results.jsonl }",
      "  - { use: sqlite, path: ./out/results.db, table: results }",
      "",
    ].join("\n"),
  );
  return spec;
}

describe("Anthropic's live API", () => {
  it("try -n 2 sends two Messages requests and writes nothing", async () => {
    const dir = tempDir();
    const spec = anthropicPipeline(dir, "{ poll_interval: 100ms }");
    const run = await batchpipe(["try", spec, "-n", "2"], {
      cwd: dir,
      env: { ANTHROPIC_API_KEY: undefined },
    });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain("── ticket/1:x (data.jsonl:1)");
    expect(run.stdout).toContain("── ticket/2:x (data.jsonl:2)");
    expect(run.stdout.match(/^answer {3}✔ /gm)).toHaveLength(2);
    expect(run.stdout).toMatch(
      /2 records tried: 2 answered, 0 failed · \d+ in \/ \d+ out tokens · \$0\.\d{6} at live prices/,
    );
    expect(fs.readdirSync(dir).sort()).toEqual(["data.jsonl", "pipeline.yaml"]);
  });

  it("batch.deadline: the batches are cancelled and every request is answered live, each id once with its own id", async () => {
    const dir = tempDir();
    const spec = anthropicPipeline(dir, "{ max_requests: 4, deadline: 3s, poll_interval: 100ms }");
    const run = await batchpipe(["run", spec, "--json"], { cwd: dir, env: { ANTHROPIC_API_KEY: undefined } });
    expect(run.code, run.stderr).toBe(0);
    expect(
      run.events.some((e) => e.type === "warning" && String(e.message).includes("passed batch.deadline")),
    ).toBe(true);
    expect(exactlyOnceInSinks(dir, ids(12))).toEqual(ONCE);
    const rows = readJsonl<{ id: string; output: string; batch_id: string }>(
      path.join(dir, "out/results.jsonl"),
    );
    expect(rows.every((r) => r.batch_id === "live")).toBe(true);
    expect(rows.find((r) => r.id === "ticket/7:x")?.output).toContain("hello 7");
  });

  it("an inline key under use: anthropic is refused with the hint naming ANTHROPIC_API_KEY", async () => {
    const dir = tempDir();
    const spec = anthropicPipeline(dir, "{ poll_interval: 100ms }");
    fs.writeFileSync(
      spec,
      fs
        .readFileSync(spec, "utf8")
        .replace("  use: emulator\n  api: anthropic\n", "  use: anthropic\n  api_key: sk-ant-inline\n"),
    );
    const run = await batchpipe(["validate", spec], { cwd: dir });
    expect(run.code).toBe(2);
    // biome-ignore lint/suspicious/noTemplateCurlyInString: ${VAR} is the spec syntax
    expect(run.stderr).toContain("write api_key: ${ANTHROPIC_API_KEY}");
    expect(run.stderr).not.toContain("sk-ant-inline");
  });
});
