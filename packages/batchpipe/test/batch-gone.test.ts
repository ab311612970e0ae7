// A batch we created is paid for again only when it is really gone: a poll answering 404 (or 410)
// once, or on every poll while the provider still lists the batch, is not that (a user's run paid
// 20 requests twice after one passing 404). Real CLI, official SDKs, the emulator over HTTP.
import fs from "node:fs";
import path from "node:path";
import type { EmulatorOptions } from "@batchpipe/openai-emulator";
import { describe, expect, it } from "vitest";
import { anthropicState, env, KEY, reportOf, writeAnthropicPipeline } from "./support/anthropic.js";
import {
  batchpipe,
  readJsonl,
  records,
  report,
  startEmulator,
  startEmulatorProcess,
  tempDir,
  writePipeline,
} from "./support/harness.js";

async function openaiRun(options: EmulatorOptions, n: number, batch: Record<string, string | number> = {}) {
  const emu = await startEmulator(options);
  try {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, "data.jsonl"), records(n));
    const spec = writePipeline(dir, { baseUrl: emu.url, batch });
    const run = await batchpipe(["run", spec, "--json"], { cwd: dir });
    const listed = (await (
      await fetch(`${emu.url}/batches?limit=100`, { headers: { authorization: "Bearer x" } })
    ).json()) as { data: { status: string; request_counts: { completed: number } }[] };
    return {
      run,
      batches: listed.data,
      errors: readJsonl<{ id: string; attempts: number; error: { code: string } }>(
        path.join(dir, "out/errors.jsonl"),
      ),
      warnings: run.events.filter((e) => e.type === "warning").map((e) => String(e.message)),
    };
  } finally {
    await emu.close();
  }
}

describe("a batch that answers 404 to a poll (openai)", () => {
  it("once: polled again and collected, not submitted (and paid) a second time", async () => {
    const { run, batches, warnings } = await openaiRun(
      { faults: [{ route: "GET /v1/batches/:id", status: 404, calls: [1] }] },
      20,
    );
    expect(run.code, run.stderr).toBe(0);
    expect(report(run)).toMatchObject({ read: 20, succeeded: 20, retried: 0, batches: 1 });
    expect(batches.map((b) => b.request_counts.completed)).toEqual([20]);
    expect(warnings.some((w) => /404\/410, 1 of 3 in a row/.test(w))).toBe(true);
    expect(warnings.some((w) => /disappeared/.test(w))).toBe(false);
  });

  it("on every poll while the provider's list still has it: taken from the list, paid once", async () => {
    const { run, batches, warnings } = await openaiRun(
      { faults: [{ route: "GET /v1/batches/:id", status: 404 }] },
      20,
    );
    expect(run.code, run.stderr).toBe(0);
    expect(report(run)).toMatchObject({ read: 20, succeeded: 20, retried: 0, batches: 1 });
    expect(batches).toHaveLength(1);
    expect(warnings.some((w) => /still lists it/.test(w))).toBe(true);
  });

  it("410 on every poll and absent from the list: gone, its requests retried and then batch_missing", async () => {
    const { run, errors, warnings } = await openaiRun(
      {
        faults: [
          { route: "GET /v1/batches/:id", status: 410 },
          {
            route: "GET /v1/batches",
            status: 200,
            body: '{"object":"list","data":[],"has_more":false}',
            contentType: "application/json",
          },
        ],
      },
      2,
      { max_attempts: 2 },
    );
    expect(run.code).toBe(3);
    expect(report(run)).toMatchObject({ read: 2, succeeded: 0, failed: 2, batches: 2 });
    expect(errors.map((e) => [e.id, e.error.code, e.attempts]).sort()).toEqual([
      ["r1", "batch_missing", 2],
      ["r2", "batch_missing", 2],
    ]);
    expect(warnings.filter((w) => /disappeared/.test(w))).toHaveLength(2);
  });
});

describe("a batch that answers 404 to a poll (anthropic)", () => {
  it("once: polled again and collected, paid once", async () => {
    const emu = await startEmulatorProcess({
      apiKey: KEY,
      timeScale: 1,
      latencies: { linesPerSecond: 2000 },
      faults: [{ route: "GET /v1/messages/batches/:id", status: 404, calls: [1] }],
    });
    try {
      const dir = tempDir();
      writeAnthropicPipeline(dir, { name: "anth-404", baseUrl: emu.origin, n: 20 });
      const run = await batchpipe(["run", "pipeline.yaml", "--json"], { cwd: dir, env });
      expect(run.code, run.stderr).toBe(0);
      expect(reportOf(run.events)).toMatchObject({ read: 20, succeeded: 20, retried: 0, batches: 1 });
      const state = await anthropicState(emu);
      expect(state.batches).toHaveLength(1);
      expect(state.paid_twice).toEqual([]);
    } finally {
      await emu.close();
    }
  });

  it("on every poll while the list still has it: taken from the list, paid once", async () => {
    const emu = await startEmulatorProcess({
      apiKey: KEY,
      timeScale: 1,
      latencies: { linesPerSecond: 2000 },
      faults: [{ route: "GET /v1/messages/batches/:id", status: 404 }],
    });
    try {
      const dir = tempDir();
      writeAnthropicPipeline(dir, { name: "anth-404-all", baseUrl: emu.origin, n: 20 });
      const run = await batchpipe(["run", "pipeline.yaml", "--json"], { cwd: dir, env });
      expect(run.code, run.stderr).toBe(0);
      expect(reportOf(run.events)).toMatchObject({ read: 20, succeeded: 20, retried: 0, batches: 1 });
      expect((await anthropicState(emu)).batches).toHaveLength(1);
    } finally {
      await emu.close();
    }
  });
});
