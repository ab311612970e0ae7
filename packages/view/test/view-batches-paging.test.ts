/**
 * A run's page lists its batches a page at a time (100), with how many are in each state, so a run
 * of thousands of batches does not send and redraw them all at every poll. A real run (150 batches
 * of one request, the in-process emulator), the viewer's server in this process, headless Chromium
 * (Debian's) via playwright-core.
 */
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ViewServer } from "../src/index.js";
import { type ViewedRun, viewedRun } from "./support/viewed-run.js";

const spec = `version: 1
name: many
provider: { use: emulator }
source: { use: jsonl, path: ./data.jsonl }
transform:
  id: "{{ id }}"
  body: { model: gpt-4o-mini, messages: [{ role: user, content: "{{ text }}" }] }
batch: { poll_interval: 50ms, max_requests: 1 }
sinks: [{ use: jsonl, path: ./out/many.jsonl }]
`;

let viewed: ViewedRun;
let server: ViewServer;
let browser: Browser;
let run: string;

beforeAll(async () => {
  viewed = await viewedRun(
    "many",
    spec,
    Array.from({ length: 150 }, (_, i) => `${JSON.stringify({ id: `d${i + 1}`, text: `line ${i}` })}\n`).join(
      "",
    ),
  );
  ({ server, browser, run } = viewed);
}, 120_000);

afterAll(async () => {
  await viewed?.close();
});

describe("a run of 150 batches", () => {
  it("sends and shows 100 at a time, says how many there are in each state, and pages to the rest", async () => {
    const url = new URL("/api/run", server.url);
    url.searchParams.set("pipeline", "many");
    url.searchParams.set("run", run);
    const body = (await (await fetch(url)).json()) as {
      batches: { shard: string }[];
      batchCount: number;
      batchStates: Record<string, number>;
    };
    expect(body.batches).toHaveLength(100);
    expect(body.batchCount).toBe(150);
    expect(body.batchStates).toEqual({ collected: 150 });

    const page = await browser.newPage();
    await page.goto(`${server.url}#/run/many/${run}`);
    await page.locator("table.batches tbody tr").first().waitFor();
    expect(await page.locator("table.batches tbody tr").count()).toBe(100);
    expect(await page.locator("#batches-shown").textContent()).toBe("batches 1–100 of 150 · 150 collected");
    await page.getByRole("link", { name: "Later batches →" }).click();
    await page.waitForFunction(() => document.querySelectorAll("table.batches tbody tr").length === 50);
    expect(await page.locator("#batches-shown").textContent()).toBe("batches 101–150 of 150 · 150 collected");
    expect(await page.locator("table.batches tbody tr td:first-child").first().textContent()).toBe("00101");
    await page.getByRole("link", { name: "← Earlier batches" }).click();
    await page.waitForFunction(() => document.querySelectorAll("table.batches tbody tr").length === 100);
    await page.close();
  }, 60_000);
});
