/**
 * `batchpipe view` in headless Chromium shows money under a cent as the CLI does (two significant
 * digits): a run of 8 cheap requests cost about a millionth of a dollar, which the page showed as
 * "$0.0000" on the runs page and the run page, and a record's cost as "$0.000000".
 */
import fs from "node:fs";
import path from "node:path";
import { formatMoney, loadPipeline } from "@batchpipe/core";
import type { Emulator } from "@batchpipe/openai-emulator";
import { type Browser, chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  cli,
  officialPlugins,
  startEmulator,
  tempDir,
  writePipeline,
} from "../../batchpipe/test/support/harness.js";
import { startViewServer, type ViewServer } from "../src/index.js";

const CHROMIUM = "/usr/bin/chromium";
/** two significant digits under a cent: "$0.0000012", never "$0.0000" */
const UNDER_A_CENT = /^\$0\.0{4,}[1-9]\d$/;

let emulator: Emulator;
let server: ViewServer;
let browser: Browser;

beforeAll(async () => {
  emulator = await startEmulator();
  browser = await chromium.launch({ executablePath: CHROMIUM });
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await server?.close();
  await emulator?.close();
});

describe("the view's money under a cent", () => {
  it("shows a run's cost, its estimate and a record's cost with two significant digits", async () => {
    const dir = tempDir("bp-view-money-");
    let data = "";
    for (let i = 0; i < 8; i++) data += `${JSON.stringify({ id: `r${i}`, text: `review ${i}` })}\n`;
    fs.writeFileSync(path.join(dir, "data.jsonl"), data);
    const spec = writePipeline(dir, { baseUrl: emulator.url, name: "view-money", maxTokens: 30 });
    fs.appendFileSync(spec, "pricing:\n  gpt-4o-mini: { input: 0.01, output: 0.01 }\n");
    const run = await cli(["run", spec, "--json"], { env: { OPENAI_API_KEY: "sk-test" } });
    expect(run.code).toBe(0);
    const pipeline = await loadPipeline(spec, {
      env: { OPENAI_API_KEY: "sk-test" },
      builtins: officialPlugins,
    });
    server = await startViewServer({ pipelines: [{ pipeline }] });
    const runs = (await (await fetch(new URL("/api/runs", server.url))).json()) as {
      pipelines: { key: string; runs: { id: string; cost: number; estimatedCost: number }[] }[];
    };
    const { key, runs: list } = runs.pipelines[0]!;
    const { id, cost, estimatedCost } = list[0]!;
    expect(cost).toBeGreaterThan(0);
    expect(cost).toBeLessThan(0.00005);
    expect(formatMoney(cost)).toMatch(UNDER_A_CENT);
    expect(formatMoney(estimatedCost)).toMatch(UNDER_A_CENT);

    const page = await browser.newPage();
    await page.goto(server.url);
    const row = page.locator(`tr[data-run="${id}"]`);
    await row.waitFor();
    expect(await row.locator('[data-col="cost"]').textContent()).toBe(formatMoney(cost));
    expect(await row.locator('[data-col="estimated"]').textContent()).toBe(formatMoney(estimatedCost));

    await page.goto(`${server.url}#/run/${encodeURIComponent(key)}/${id}`);
    await page.locator("#progress").waitFor();
    expect(await page.locator("main").textContent()).toContain(
      `${formatMoney(cost)} (est. ${formatMoney(estimatedCost)})`,
    );

    const record = new URL("/api/record", server.url);
    record.search = new URLSearchParams({ pipeline: key, run: id, ref: "s:0" }).toString();
    const one = (await (await fetch(record)).json()) as { cost: number; row: { id: string } };
    await page.goto(`${server.url}#/record/${encodeURIComponent(key)}/${id}/s%3A0`);
    await page.locator("#record-id").waitFor();
    const shown = await page.locator('dl.facts dt:text-is("cost") + dd').textContent();
    expect(shown).toBe(formatMoney(one.cost));
    expect(shown).toMatch(UNDER_A_CENT);
    await page.close();
  });
});
