/**
 * The runs page of a pipeline with thousands of runs (watch mode makes one per file): it lists a
 * page of each pipeline's newest runs and links to the older ones, page by page, rather than all of
 * them at each poll. One real run through the CLI, its row copied to 5,000 runs in the real state
 * file; the viewer's server in this process, headless Chromium (Debian's) through playwright-core.
 */
import fs from "node:fs";
import path from "node:path";
import { loadPipeline } from "@batchpipe/core";
import Database from "better-sqlite3";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cli, officialPlugins, tempDir } from "../../batchpipe/test/support/harness.js";
import { startViewServer, type ViewServer } from "../src/index.js";

const RUNS = 5000;

let server: ViewServer;
let browser: Browser;
let page: Page;
/** the one real run's id: the oldest; the copies are `${first}-1` (older) to `${first}-4999` (newest) */
let first: string;

beforeAll(async () => {
  const dir = tempDir("bp-view-paging-");
  fs.writeFileSync(
    path.join(dir, "data.jsonl"),
    ["a", "b", "c"].map((id) => `${JSON.stringify({ id, text: `review ${id}` })}\n`).join(""),
  );
  const spec = path.join(dir, "many.yaml");
  fs.writeFileSync(
    spec,
    [
      "version: 1",
      "name: many",
      "provider: { use: emulator, emulator: { timeScale: 100000 } }",
      "source: { use: jsonl, path: ./data.jsonl }",
      "transform:",
      '  id: "{{ id }}"',
      '  body: { model: gpt-4o-mini, max_tokens: 20, messages: [{ role: user, content: "{{ text }}" }] }',
      "batch: { poll_interval: 50ms }",
      "sinks: [{ use: jsonl, path: ./out/many.jsonl }]",
      "",
    ].join("\n"),
  );
  expect((await cli(["run", spec])).code).toBe(0);
  // the run's row copied: 5,000 runs, one second apart
  const db = new Database(path.join(dir, ".batchpipe", "many", "state.db"));
  try {
    const run = db.prepare("SELECT * FROM runs").get() as Record<string, number | string>;
    first = run.id as string;
    const insert = db.prepare(
      "INSERT INTO runs (id, seq, status, created_at, finished_at, cancel_requested, totals, counters) VALUES (?, ?, ?, ?, ?, 0, ?, ?)",
    );
    db.transaction(() => {
      for (let i = 1; i < RUNS; i++) {
        const at = (run.created_at as number) + i * 1000;
        insert.run(
          `${first}-${i}`,
          (run.seq as number) + i,
          run.status,
          at,
          at + 500,
          run.totals,
          run.counters,
        );
      }
    })();
  } finally {
    db.close();
  }
  server = await startViewServer({
    pipelines: [{ pipeline: await loadPipeline(spec, { env: {}, builtins: officialPlugins }) }],
  });
  browser = await chromium.launch({ executablePath: "/usr/bin/chromium" });
  page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

const runIds = () =>
  page.locator("tr[data-run]").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-run")));

describe("a pipeline with 5,000 runs", () => {
  it("the runs API answers a page of its newest runs and how many there are, not all 5,000 at each poll", async () => {
    const text = await (await fetch(new URL("/api/runs", server.url))).text();
    const body = JSON.parse(text) as { pipelines: { runs: { id: string }[]; runCount: number }[] };
    expect(body.pipelines[0]!.runs.length).toBe(50);
    expect(body.pipelines[0]!.runs[0]!.id).toBe(`${first}-4999`);
    expect(body.pipelines[0]!.runCount).toBe(RUNS);
    // 1.4 MB when it held every run
    expect(text.length).toBeLessThan(50_000);
  });

  it("the runs page lists the newest 50 and pages through the older ones", async () => {
    await page.goto(server.url);
    await page.locator("tr[data-run]").first().waitFor();
    const newest = await runIds();
    expect(newest.length).toBe(50);
    expect([newest[0], newest.at(-1)]).toEqual([`${first}-4999`, `${first}-4950`]);
    await page.click("text=Older runs (5,000 in all) →");
    await page.locator(`tr[data-run="${first}-4949"]`).waitFor();
    expect(page.url()).toBe(`${server.url}#/runs/many?offset=50`);
    expect(await page.locator("section p.muted").first().textContent()).toBe("runs 51–100 of 5,000");
    expect((await runIds()).length).toBe(50);
    // the last page ends at the first run, with no older page
    await page.goto(`${server.url}#/runs/many?offset=4950`);
    await page.locator(`tr[data-run="${first}"]`).waitFor();
    expect((await runIds()).at(-1)).toBe(first);
    expect(await page.locator(".pager").textContent()).toBe("← Newer");
    await page.click("text=← Newer");
    await page.locator(`tr[data-run="${first}-99"]`).waitFor();
    expect(await page.locator("section p.muted").first().textContent()).toBe("runs 4,901–4,950 of 5,000");
  });
});
