/**
 * `batchpipe view` shows answers cut short: the runs page says how many of a run's successes were
 * cut, the run page counts them per reason, and the records list and a record's page mark each cut
 * row with its reason, read from the row's response by the pipeline's provider. A sink without the
 * response cannot tell which rows: the records page says so. Real runs through the official openai
 * provider and the emulator (a line rule stops two answers at the content filter), the viewer's
 * server in this process, headless Chromium (Debian's) through playwright-core.
 */
import fs from "node:fs";
import path from "node:path";
import { loadPipeline } from "@batchpipe/core";
import type { Emulator } from "@batchpipe/openai-emulator";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, expect, it } from "vitest";
import { cli, officialPlugins, startEmulator, tempDir } from "../../batchpipe/test/support/harness.js";
import { startViewServer, type ViewServer } from "../src/index.js";

const LONG = "the box was big and the product was fine, the delivery was quick enough";
const env = { OPENAI_API_KEY: "sk-test" };

let emu: Emulator;
let server: ViewServer;
let browser: Browser;
let page: Page;
/** pipeline name → its key and its one run */
const runs: Record<string, { key: string; run: string }> = {};

beforeAll(async () => {
  // r1 cut at max_tokens 8, r2 and r4 stopped by the content filter, r3 and r5 whole
  emu = await startEmulator({ lineRules: [{ customIds: ["r2", "r4"], stop: "content_filter" }] });
  const dir = tempDir("bp-view-cut-");
  fs.writeFileSync(
    path.join(dir, "data.jsonl"),
    ["r1", "r2", "r3", "r4", "r5"]
      .map((id) => `${JSON.stringify({ id, text: id === "r1" ? LONG : `review ${id}` })}\n`)
      .join(""),
  );
  const specs = [
    ["cut-all", "fields: all"],
    ["cut-default", ""],
  ].map(([name, fields]) => {
    const file = path.join(dir, `${name}.yaml`);
    fs.writeFileSync(
      file,
      [
        "version: 1",
        `name: ${name}`,
        `provider: { use: openai, base_url: "${emu.url}" }`,
        "source: { use: jsonl, path: ./data.jsonl }",
        "transform:",
        '  id: "{{ id }}"',
        '  body: { model: gpt-4o-mini, max_tokens: 8, messages: [{ role: user, content: "{{ text }}" }] }',
        "batch: { poll_interval: 50ms }",
        `sinks: [{ use: jsonl, path: ./out/${name}.jsonl${fields ? `, ${fields}` : ""} }]`,
        "",
      ].join("\n"),
    );
    return file;
  });
  for (const spec of specs) expect((await cli(["run", spec], { env })).code).toBe(0);
  const pipelines = [];
  for (const spec of specs)
    pipelines.push({ pipeline: await loadPipeline(spec, { env, builtins: officialPlugins }) });
  server = await startViewServer({ pipelines });
  const body = (await (await fetch(new URL("/api/runs", server.url))).json()) as {
    pipelines: { key: string; name: string; runs: { id: string }[] }[];
  };
  for (const p of body.pipelines) runs[p.name] = { key: p.key, run: p.runs[0]!.id };
  browser = await chromium.launch({ executablePath: "/usr/bin/chromium" });
  page = await browser.newPage();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
  await emu?.close();
});

it("the runs page says how many successes were cut, the run page counts them per reason", async () => {
  const { key, run } = runs["cut-all"]!;
  await page.goto(server.url);
  const cell = page.locator(`section[data-pipeline="cut-all"] tr[data-run="${run}"] [data-col="succeeded"]`);
  await cell.waitFor();
  expect(await cell.textContent()).toBe("5 (3 cut)");
  expect(await cell.locator(".cut").getAttribute("title")).toBe(
    "cut short: 1 at max_tokens · 2 by the content filter",
  );

  await page.goto(`${server.url}#/run/${key}/${run}`);
  await page.locator("#cut").waitFor();
  expect(await page.locator("#cut").textContent()).toBe("1 at max_tokens · 2 by the content filter");
});

it("the records list and a record's page mark each cut row with its reason", async () => {
  const { key, run } = runs["cut-all"]!;
  await page.goto(`${server.url}#/records/${key}/${run}`);
  await page.locator("table.records tbody tr").nth(4).waitFor();
  const marks = await page
    .locator("table.records tbody tr")
    .evaluateAll((rows) =>
      rows.map((r) => [r.querySelector("td a")!.textContent, r.getAttribute("data-cut")]).sort(),
    );
  expect(marks).toEqual([
    ["r1", "max_tokens"],
    ["r2", "content_filter"],
    ["r3", ""],
    ["r4", "content_filter"],
    ["r5", ""],
  ]);
  expect(await page.locator('tr[data-cut="max_tokens"] .badge.cut').textContent()).toBe("cut: max_tokens");

  await page.click('table.records a:text-is("r2")');
  await page.locator("#record-id").waitFor();
  expect(await page.locator("#cut").textContent()).toBe(
    "cut: content_filter stopped by the provider's content filter: the output is partial or empty",
  );
  await page.goto("about:blank");
  await page.goto(`${server.url}#/records/${key}/${run}?q=r3`);
  await page.click('table.records a:text-is("r3")');
  await page.locator("#record-id").waitFor();
  expect(await page.locator("#cut").count()).toBe(0);
});

it("a sink that keeps no response cannot tell which rows were cut: the records page says so", async () => {
  const { key, run } = runs["cut-default"]!;
  await page.goto(`${server.url}#/records/${key}/${run}`);
  await page.locator("table.records tbody tr").nth(4).waitFor();
  expect(await page.locator("p.note").textContent()).toBe(
    "3 of the run's answers were cut short, but cut-default.jsonl keeps no response to tell which: add response to the sink's fields (or fields: all) to see them marked.",
  );
  expect(await page.locator("tr[data-cut]:not([data-cut=''])").count()).toBe(0);
});
