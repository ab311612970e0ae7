/**
 * A run's status as the viewer shows it, over a real run through the CLI (the emulator over loopback
 * HTTP) interrupted by SIGTERM: an unfinished run no process runs is `stopped`, as `batchpipe runs`
 * and `status` say, never `running` (the page would keep polling it as live); its duration is unknown
 * ("–", as `batchpipe runs` writes "-"), not the time since it started.
 */

import fs from "node:fs";
import path from "node:path";
import { loadPipeline } from "@batchpipe/core";
import type { Emulator } from "@batchpipe/openai-emulator";
import { type Browser, chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  batchpipe,
  cli,
  officialPlugins,
  signalOnce,
  startBatchpipe,
  startEmulator,
  tempDir,
  waitFor,
  writeDataset,
  writePipeline,
} from "../../batchpipe/test/support/harness.js";
import { startViewServer, type ViewServer } from "../src/index.js";

let emulator: Emulator;
let server: ViewServer | undefined;
let browser: Browser | undefined;

beforeAll(async () => {
  // slow enough that the batches are still running when the signal arrives
  emulator = await startEmulator({ timeScale: 1, latencies: { validation: 0.2, linesPerSecond: 10 } });
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
  await emulator?.close();
});

describe("the viewer's run status", () => {
  it("shows a run interrupted by SIGTERM as stopped, not running", async () => {
    const dir = tempDir("bp-view-status-");
    writeDataset(dir, 20);
    const spec = writePipeline(dir, { baseUrl: emulator.url, name: "stopped", batch: { max_requests: 10 } });
    let signalled = false;
    const run = await batchpipe(["run", "pipeline.yaml", "--json"], {
      cwd: dir,
      onEvent(event, child) {
        if (event.type === "shard_submitted" && !signalled) {
          signalled = true;
          child.kill("SIGTERM");
        }
      },
    });
    expect(run.code).toBe(143);
    const runs = await cli(["runs", spec, "--json"], { env: { OPENAI_API_KEY: "sk-test" } });
    const listed = JSON.parse(runs.stdout) as { runs: { id: string; status: string }[] };
    expect(listed.runs[0]!.status).toBe("stopped");
    const id = listed.runs[0]!.id;

    const pipeline = await loadPipeline(spec, {
      env: { OPENAI_API_KEY: "sk-test" },
      builtins: officialPlugins,
    });
    server = await startViewServer({ pipelines: [{ pipeline }] });
    const get = async (route: string) => (await fetch(new URL(route, server!.url))).json();
    const all = (await get("/api/runs")) as {
      pipelines: { runningPid: number | null; runs: { id: string; status: string }[] }[];
    };
    expect(all.pipelines[0]!.runningPid).toBeNull();
    expect(all.pipelines[0]!.runs.map((r) => [r.id, r.status])).toEqual([[id, "stopped"]]);
    const one = (await get(`/api/run?pipeline=stopped&run=${id}`)) as {
      run: { status: string };
      running: boolean;
    };
    expect(one.run.status).toBe("stopped");
    expect(one.running).toBe(false);

    // no process runs it: its duration is not known (as `batchpipe runs` says), not a clock ticking on
    browser = await chromium.launch({ executablePath: "/usr/bin/chromium" });
    const page = await browser.newPage();
    await page.goto(server.url);
    const cell = page.locator(`tr[data-run="${id}"] [data-col="duration"]`);
    await cell.waitFor();
    expect(await cell.textContent()).toBe("–");
    await page.goto(`${server.url}#/run/stopped/${id}`);
    await page.locator("#duration").waitFor();
    expect(await page.locator("#duration").textContent()).toBe("–");
    // why it stopped and how to go on, as `batchpipe status` says
    const stopped = (await page.locator("#stopped").textContent({ timeout: 5000 }))!;
    expect(stopped).toMatch(
      /^Stopped on: interrupted by SIGTERM \(INTERRUPTED\) at .+\. Resume with: batchpipe run (.+)$/,
    );
    expect(stopped.endsWith(`batchpipe run ${spec}`)).toBe(true);
  });

  it("shows a watcher waiting for files as the process running the pipeline, as batchpipe status does", async () => {
    const dir = tempDir("bp-view-watching-");
    fs.mkdirSync(path.join(dir, "inbox"));
    fs.writeFileSync(path.join(dir, "inbox", "a.jsonl"), `${JSON.stringify({ id: "w1", text: "one" })}\n`);
    const spec = path.join(dir, "pipeline.yaml");
    fs.writeFileSync(
      spec,
      [
        "version: 1",
        "name: watching",
        `provider: { use: openai, base_url: "${emulator.url}" }`,
        "source: { use: jsonl, path: ./inbox/*.jsonl }",
        "transform:",
        '  id: "{{ id }}"',
        '  body: { model: gpt-4o-mini, max_tokens: 5, messages: [{ role: user, content: "{{ text }}" }] }',
        "batch: { poll_interval: 50ms }",
        "sinks: [{ use: jsonl, path: ./out/results.jsonl }]",
        "",
      ].join("\n"),
    );
    const pipeline = await loadPipeline(spec, {
      env: { OPENAI_API_KEY: "sk-test" },
      builtins: officialPlugins,
    });
    const view = await startViewServer({ pipelines: [{ pipeline }] });
    const watcher = startBatchpipe(["watch", spec, "--settle", "100ms"], {
      cwd: dir,
      env: { OPENAI_API_KEY: "sk-test" },
      timeoutMs: 120_000,
    });
    const errors = new Set<string>();
    try {
      type Runs = { pipelines: { runningPid: number | null; runs: { status: string }[]; error?: string }[] };
      const runs = async () => (await (await fetch(new URL("/api/runs", view.url))).json()) as Runs;
      // the file's run is done: the watcher waits for the next file
      await waitFor(
        async () => {
          const p = (await runs()).pipelines[0]!;
          if (p.error) errors.add(p.error);
          return p.runs?.[0]?.status === "done";
        },
        60_000,
        "the file's run",
      );
      expect([...errors]).toEqual([]);
      // (a lock being taken or let go has no pid written for a moment: core's lockHolder says 0)
      await waitFor(
        async () => (await runs()).pipelines[0]!.runningPid === watcher.child.pid,
        10_000,
        "the watcher's pid",
      );
      browser ??= await chromium.launch({ executablePath: "/usr/bin/chromium" });
      const page = await browser.newPage();
      await page.goto(view.url);
      await page.locator('section[data-pipeline="watching"] h2 .badge').waitFor();
      expect(await page.locator('section[data-pipeline="watching"] h2 .badge').textContent()).toBe(
        `watching · pid ${watcher.child.pid}`,
      );
    } finally {
      signalOnce(watcher.child, "SIGTERM");
      await watcher.done;
      await view.close();
    }
  });

  it("shows a pipeline whose first run is creating its state database as not run yet, not an error", async () => {
    const dir = tempDir("bp-view-first-run-");
    writeDataset(dir, 30);
    const spec = writePipeline(dir, { baseUrl: emulator.url, name: "first", batch: { max_requests: 10 } });
    const pipeline = await loadPipeline(spec, {
      env: { OPENAI_API_KEY: "sk-test" },
      builtins: officialPlugins,
    });
    const view = await startViewServer({ pipelines: [{ pipeline }] });
    try {
      const seen = new Set<string>();
      const run = batchpipe(["run", "pipeline.yaml"], { cwd: dir, env: { OPENAI_API_KEY: "sk-test" } });
      let ended = false;
      void run.then(() => {
        ended = true;
      });
      // the runs page polls while the run creates state.db and its tables
      while (!ended) {
        const body = (await (await fetch(new URL("/api/runs", view.url))).json()) as {
          pipelines: { error?: string; runs?: unknown[] }[];
        };
        const p = body.pipelines[0]!;
        seen.add(
          p.error ? `error: ${p.error.replace(dir, "<dir>")}` : p.runs!.length === 0 ? "no run yet" : "a run",
        );
      }
      expect((await run).code).toBe(0);
      expect([...seen].filter((s) => s.startsWith("error"))).toEqual([]);
    } finally {
      await view.close();
    }
  });
});
