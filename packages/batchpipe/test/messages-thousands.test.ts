// The engine's and the CLI's messages group the thousands of their counts as the rest of the CLI
// does ("1,200 requests"): they said "(1200 requests)", "… and 1080 more shards", "pending 1100",
// "~1530 input tokens, over batch.max_enqueued_tokens (1000)". Real CLI in a child process, the
// emulator over HTTP.
import fs from "node:fs";
import path from "node:path";
import type { Emulator } from "@batchpipe/openai-emulator";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { batchpipe, readJsonl, records, startEmulator, tempDir, writePipeline } from "./support/harness.js";

let emu: Emulator;
beforeAll(async () => {
  emu = await startEmulator({ maxBatchLines: 1000 });
});
afterAll(async () => {
  await emu?.close();
});

describe("counts over 999 in messages", () => {
  it("plan's shards left unlisted and status's shards per state", async () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, "data.jsonl"), records(1100));
    // a shard per record; max_cost below the estimate, so the run stops with every shard pending
    const spec = writePipeline(dir, { baseUrl: emu.url, batch: { max_requests: 1, max_cost: 0.0000001 } });
    const plan = await batchpipe(["plan", spec], { cwd: dir });
    expect(plan.code, plan.stderr).toBe(0);
    expect(plan.stdout).toContain("  … and 1,080 more shards\n");
    const run = await batchpipe(["run", spec], { cwd: dir });
    expect(run.stderr).toContain("BUDGET_EXCEEDED");
    const status = await batchpipe(["status", spec], { cwd: dir });
    expect(status.stdout).toMatch(/ {2}shards pending 1,100 · batches 0\n/);
  }, 120_000);

  it("a shard file gone before its submission", async () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, "data.jsonl"), records(1200));
    const spec = writePipeline(dir, { baseUrl: emu.url, batch: { max_cost: 0.0000001 } });
    const first = await batchpipe(["run", spec], { cwd: dir });
    expect(first.stderr).toContain("BUDGET_EXCEEDED");
    const state = path.join(dir, ".batchpipe/test");
    const runDir = fs.readdirSync(state).find((name) => fs.existsSync(path.join(state, name, "shards")))!;
    fs.rmSync(path.join(state, runDir, "shards/00001.jsonl"));
    fs.writeFileSync(spec, fs.readFileSync(spec, "utf8").replace("max_cost: 1e-7", "max_cost: 5"));
    const second = await batchpipe(["run", spec], { cwd: dir });
    expect(second.code).toBe(1);
    expect(second.stderr).toContain("is missing: shard 00001 (1,200 requests) cannot be submitted");
  });

  it("a batch failed as a whole, and requests that may not fit their model", async () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, "data.jsonl"), records(1200));
    const spec = writePipeline(dir, { baseUrl: emu.url, prompt: "Say: {{ text }}, again and again" });
    // a window the ~15-token requests may not fit (estimated over it, not twice over it)
    fs.appendFileSync(spec, "model_limits:\n  gpt-4o-mini: { context_window: 12, max_output_tokens: 10 }\n");
    const run = await batchpipe(["run", spec, "--json"], { cwd: dir });
    expect(run.code).toBe(1);
    const warning = run.events.find((e) => e.type === "warning") as { message: string } | undefined;
    expect(warning?.message, run.stdout).toMatch(/^1,200 requests may not fit the model's context window/);
    const error = run.events.find((e) => e.type === "error") as { message: string };
    // the emulator takes at most 1,000 lines a batch
    expect(error.message).toMatch(
      /of shard 00001 \(1,200 requests, \d{2,3},\d{3} bytes\) failed validation as a whole/,
    );
  });

  it("requests over batch.max_bytes and batch.max_enqueued_tokens", async () => {
    const dir = tempDir();
    const rows = [
      { id: "small", text: "hello" },
      { id: "many-tokens", text: "word ".repeat(1500) },
      { id: "many-bytes", text: "word ".repeat(3000) },
    ];
    fs.writeFileSync(path.join(dir, "data.jsonl"), rows.map((r) => JSON.stringify(r)).join("\n"));
    const spec = writePipeline(dir, {
      baseUrl: emu.url,
      batch: { max_bytes: "10KB", max_enqueued_tokens: 1000 },
    });
    const run = await batchpipe(["run", spec], { cwd: dir });
    expect(run.code, run.stderr).toBe(3);
    const errors = readJsonl<{ id: string; error: { message: string } }>(path.join(dir, "out/errors.jsonl"));
    const message = (id: string) => errors.find((e) => e.id === id)?.error.message;
    expect(message("many-tokens")).toMatch(
      /^the request has ~1,\d{3} input tokens, over batch\.max_enqueued_tokens \(1,000\)/,
    );
    expect(message("many-bytes")).toMatch(/^the request is 15,\d{3} bytes, over batch\.max_bytes \(10,240\)/);
  });
});
