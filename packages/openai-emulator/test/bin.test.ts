import { spawn } from "node:child_process";
import { once } from "node:events";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import Anthropic from "@anthropic-ai/sdk";
import { expect, it } from "vitest";

const BIN = path.resolve(import.meta.dirname, "../bin/batchpipe-emulator.js");

it("bin: prints one ready line, reads --config, flags override, serves state and both APIs, exits 0 on SIGINT", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "emu-bin-"));
  const config = path.join(dir, "emu.json");
  fs.writeFileSync(config, JSON.stringify({ timeScale: 5, seed: 9, queueLimits: { "gpt-4o-mini": 1234 } }));
  const child = spawn(process.execPath, [BIN, "--port", "0", "--config", config, "--time-scale", "60"], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout.on("data", (c: Buffer) => {
    out += c.toString();
  });
  try {
    const deadline = Date.now() + 10_000;
    while (!out.includes("\n") && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(out).toMatch(/^batchpipe-emulator listening on http:\/\/127\.0\.0\.1:\d+\/v1\n$/);
    const url = out.trim().split(" on ")[1]!;
    const state = await (await fetch(url.replace(/\/v1$/, "/_emulator/state"))).json();
    expect(state.time_scale).toBe(60);
    expect(state.queues["gpt-4o-mini"]).toEqual({ enqueued_tokens: 0, limit: 1234, enqueued_requests: 0 });
    // Anthropic's Message Batches on the same port
    const anthropic = new Anthropic({ baseURL: url.replace(/\/v1$/, ""), apiKey: "k", maxRetries: 0 });
    const params = {
      model: "claude-haiku-4-5",
      max_tokens: 10,
      messages: [{ role: "user" as const, content: "hi" }],
    };
    const batch = await anthropic.messages.batches.create({ requests: [{ custom_id: "one", params }] });
    expect(batch.processing_status).toBe("in_progress");
  } finally {
    child.kill("SIGINT");
  }
  const [code] = await once(child, "exit");
  expect(code).toBe(0);
  expect(out.trim().split("\n")).toHaveLength(1);
  fs.rmSync(dir, { recursive: true, force: true });
});
