/**
 * Answers the model cut short (max_tokens reached): delivered as successes with their partial
 * output, counted per reason in the run's counters, the report and `status`, across a kill -9 and
 * a resume, and again when a rerun delivers them from the result cache. The real CLI in child
 * processes, the emulator in its own process, both dialects (OpenAI chat, Anthropic Messages).
 */
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KEY } from "./support/anthropic.js";
import {
  batchpipe,
  type ChildRun,
  type EmulatorProcess,
  exactlyOnceInSinks,
  ONCE,
  readJsonl,
  report,
  signalOnce,
  startEmulatorProcess,
  tempDir,
} from "./support/harness.js";

const N = 30;
/** every third record is long: 80 characters, 20 tokens to echo, past max_tokens 10 (40 characters) */
const isLong = (i: number) => i % 3 === 0;
const text = (i: number) =>
  isLong(i)
    ? `review ${String(i).padStart(2, "0")} ${"the box was big and the product was fine ".repeat(2)}`.slice(
        0,
        80,
      )
    : `ok ${i}`;
const LONG = Array.from({ length: N }, (_, i) => i + 1).filter(isLong).length;

type Dialect = "openai" | "anthropic";

function writeCutPipeline(dir: string, dialect: Dialect, emu: EmulatorProcess): string[] {
  const ids = Array.from({ length: N }, (_, i) => `rec-${i + 1}`);
  fs.writeFileSync(
    path.join(dir, "data.jsonl"),
    ids.map((id, i) => `${JSON.stringify({ id, text: text(i + 1) })}\n`).join(""),
  );
  // the key: OPENAI_API_KEY (the harness sets it) or ANTHROPIC_API_KEY
  const provider =
    dialect === "openai"
      ? `provider: { use: openai, base_url: "${emu.url}" }`
      : `provider: { use: anthropic, base_url: "${emu.origin}" }`;
  // the reason an answer ended, kept with a projection path (the default row has no such field)
  const finish = dialect === "openai" ? "response.choices.0.finish_reason" : "response.stop_reason";
  const yaml = [
    "version: 1",
    `name: cut-${dialect}`,
    provider,
    "source: { use: jsonl, path: ./data.jsonl }",
    "transform:",
    "  use: prompt",
    '  id: "{{ id }}"',
    "  body:",
    `    model: ${dialect === "openai" ? "gpt-4o-mini" : "claude-haiku-4-5"}`,
    "    max_tokens: 10",
    '    messages: [{ role: user, content: "{{ text }}" }]',
    "batch: { max_requests: 5, poll_interval: 50ms }",
    "sinks:",
    `  - { use: jsonl, path: ./out/results.jsonl, fields: [id, output, usage, { finish: ${finish} }] }`,
    "  - { use: sqlite, path: ./out/results.db, table: results }",
    "errors:",
    "  - { use: jsonl, path: ./out/errors.jsonl }",
  ];
  fs.writeFileSync(path.join(dir, "pipeline.yaml"), `${yaml.join("\n")}\n`);
  return ids;
}

/** the report's warning line(s): everything after the report's table */
const warnings = (run: ChildRun) => run.stdout.split("\n").filter((line) => line.startsWith("⚠"));

describe.each<Dialect>(["openai", "anthropic"])("answers cut at max_tokens (%s dialect)", (dialect) => {
  let emu: EmulatorProcess;
  beforeAll(async () => {
    emu = await startEmulatorProcess({ timeScale: 1, latencies: { linesPerSecond: 200, validation: 0.05 } });
  });
  afterAll(async () => {
    await emu?.close();
  });

  it("counts every cut answer once across a kill -9 and a resume, says so with the fix, and again from the cache", async () => {
    const dir = tempDir("bp-cut-");
    const ids = writeCutPipeline(dir, dialect, emu);
    const env = { ANTHROPIC_API_KEY: KEY };

    // killed once the first shard's answers are delivered (small parts: some committed, some not)
    const killed = await batchpipe(["run", "pipeline.yaml", "--json"], {
      cwd: dir,
      env,
      engine: { deliveryPartSize: 2 },
      onEvent: (event, child) => {
        if (event.type === "shard_collected") signalOnce(child, "SIGKILL");
      },
    });
    expect(killed.signal, killed.stderr).toBe("SIGKILL");

    const resumed = await batchpipe(["run", "pipeline.yaml"], {
      cwd: dir,
      env,
      engine: { deliveryPartSize: 2 },
    });
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toContain("resuming run r1-");
    expect(resumed.stdout).toContain("completed: every request succeeded");
    expect(warnings(resumed)).toMatchInlineSnapshot(`
      [
        "⚠ 10 of 30 answers were cut short at max_tokens: their rows hold partial output (raise max_tokens, max_completion_tokens or max_output_tokens in the transform's body, and run again)",
      ]
    `);
    expect(exactlyOnceInSinks(dir, ids)).toEqual(ONCE);

    // the rows are as the model left them: the cut ones hold the first 40 characters
    const rows = readJsonl<{ id: string; output: string; usage: { output_tokens: number }; finish: string }>(
      path.join(dir, "out/results.jsonl"),
    );
    const cut = rows.filter((r) => r.finish === (dialect === "openai" ? "length" : "max_tokens"));
    expect(cut.map((r) => r.id).sort()).toEqual(
      Array.from({ length: N }, (_, i) => i + 1)
        .filter(isLong)
        .map((i) => `rec-${i}`)
        .sort(),
    );
    for (const r of cut) {
      expect(r.output).toBe(text(Number(r.id.slice(4))).slice(0, 40));
      expect(r.usage.output_tokens).toBe(10);
    }

    const status = await batchpipe(["status", "pipeline.yaml"], { cwd: dir, env });
    expect(status.stdout).toContain(`ok 30 (${LONG} cut short at max_tokens) · failed 0`);
    const json = await batchpipe(["status", "pipeline.yaml", "--json"], { cwd: dir, env });
    expect(JSON.parse(json.stdout).run.counters).toMatchObject({ cutByReason: { max_tokens: LONG } });

    // a rerun answered from the result cache delivers the same cut answers: it says so again
    const rerun = await batchpipe(["run", "pipeline.yaml", "--json"], { cwd: dir, env });
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(report(rerun)).toMatchObject({
      succeeded: N,
      cached: N,
      cut: LONG,
      cutByReason: { max_tokens: LONG },
      cost: 0,
    });
  }, 300_000);
});
