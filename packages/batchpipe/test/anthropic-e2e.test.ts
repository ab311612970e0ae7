/**
 * Anthropic's Message Batches end to end: the real CLI in a child process, the anthropic provider
 * (official @anthropic-ai/sdk) and the emulator's Anthropic side over loopback HTTP.
 */
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  batchpipe,
  type EmulatorProcess,
  exactlyOnceInSinks,
  ONCE,
  readJsonl,
  startEmulatorProcess,
  tempDir,
} from "./support/harness.js";

const KEY = "sk-ant-e2e-0123456789abcdef";
const env = { ANTHROPIC_API_KEY: KEY };

/** ids Anthropic's custom_id pattern refuses: slashes, colons, spaces, 100 characters */
const awkwardId = (i: number) => `tenant/${i % 7}:doc:${i} ${"é/x:".repeat(30)}`.slice(0, 100);

interface AnthropicState {
  queue: { processing: number; limit: number };
  batches: { id: string; processing_status: string; request_counts: Record<string, number> }[];
  paid: Record<string, number>;
  paid_twice: string[];
}

async function anthropicState(emu: EmulatorProcess): Promise<AnthropicState> {
  return ((await emu.state()) as unknown as { anthropic: AnthropicState }).anthropic;
}

function writeAnthropicPipeline(
  dir: string,
  o: {
    name: string;
    baseUrl: string;
    n: number;
    batch?: Record<string, string | number>;
    provider?: string[];
  },
): string[] {
  const ids = Array.from({ length: o.n }, (_, i) => awkwardId(i + 1));
  fs.writeFileSync(
    path.join(dir, "data.jsonl"),
    ids.map((id, i) => `${JSON.stringify({ id, text: `review ${i + 1}` })}\n`).join(""),
  );
  const batch = { poll_interval: "50ms", ...o.batch };
  const yaml = [
    "version: 1",
    `name: ${o.name}`,
    "provider:",
    "  use: anthropic",
    `  base_url: ${o.baseUrl}`,
    "  retry_min_delay_ms: 20",
    "  retry_max_delay_ms: 200",
    ...(o.provider ?? []).map((l) => `  ${l}`),
    "source: { use: jsonl, path: ./data.jsonl }",
    "transform:",
    "  use: prompt",
    '  id: "{{ id }}"',
    "  body:",
    "    model: claude-haiku-4-5",
    "    max_tokens: 20",
    '    messages: [{ role: user, content: "Sentiment of: {{ text }}" }]',
    "batch:",
    ...Object.entries(batch).map(([k, v]) => `  ${k}: ${v}`),
    "sinks:",
    "  - { use: jsonl, path: ./out/results.jsonl }",
    "  - { use: sqlite, path: ./out/results.db, table: results }",
    "errors:",
    "  - { use: jsonl, path: ./out/errors.jsonl }",
  ];
  fs.writeFileSync(path.join(dir, "pipeline.yaml"), `${yaml.join("\n")}\n`);
  return ids;
}

const reportOf = (events: { type: string }[]) =>
  (
    events.find((e) => e.type === "run_finished") as unknown as
      | { report: Record<string, unknown> }
      | undefined
  )?.report;

describe("anthropic provider (real CLI, emulator over HTTP)", () => {
  let emu: EmulatorProcess;
  beforeAll(async () => {
    emu = await startEmulatorProcess({ apiKey: KEY, timeScale: 1, latencies: { linesPerSecond: 20_000 } });
  });
  afterAll(async () => {
    await emu?.close();
  });

  it("20,000 records whose ids do not fit custom_id, max_requests 4000: 5 batches, every id once in both sinks with its own id", async () => {
    const dir = tempDir();
    const ids = writeAnthropicPipeline(dir, {
      name: "anth-ids",
      baseUrl: emu.origin,
      n: 20_000,
      batch: { max_requests: 4000 },
    });
    const before = (await anthropicState(emu)).batches.length;
    const plan = await batchpipe(["plan", "pipeline.yaml"], { cwd: dir, env });
    expect(plan.code, plan.stderr).toBe(0);
    expect(plan.stdout).toMatch(/estimated cost\s+\$\d/);
    const run = await batchpipe(["run", "pipeline.yaml", "--json"], { cwd: dir, env, timeoutMs: 300_000 });
    expect(run.code, run.stderr).toBe(0);
    const state = await anthropicState(emu);
    expect(state.batches.length - before).toBe(5);
    expect(exactlyOnceInSinks(dir, ids)).toEqual(ONCE);
    const rows = readJsonl<{ id: string; output: string; usage: Record<string, number>; model: string }>(
      path.join(dir, "out/results.jsonl"),
    );
    expect(rows[0]).toMatchObject({ output: expect.any(String), model: expect.stringContaining("claude") });
    expect(rows[0]!.usage).toMatchObject({ input_tokens: expect.any(Number), cached_tokens: 0 });
    const report = reportOf(run.events);
    expect(report).toMatchObject({ succeeded: 20_000, failed: 0 });
    expect(report?.cost).toBeGreaterThan(0);
    // the key is never stored
    expect(fs.readFileSync(path.join(dir, "pipeline.yaml"), "utf8")).not.toContain(KEY);
    expect(state.paid_twice).toEqual([]);
  }, 300_000);
});
