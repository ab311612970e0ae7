/**
 * The progress chart's labels stay inside it: the request count at the top of its axis (`100,000`)
 * was cut to `00,000` by the chart's left edge. A real run of 100,000 records (two batches, the
 * in-process emulator), the viewer's server in this process, headless Chromium (Debian's).
 */
import fs from "node:fs";
import path from "node:path";
import { loadPipeline } from "@batchpipe/core";
import { type Browser, chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { batchpipe, officialPlugins, tempDir } from "../../batchpipe/test/support/harness.js";
import { startViewServer, type ViewServer } from "../src/index.js";

const spec = `version: 1
name: large
provider: { use: emulator }
source: { use: jsonl, path: ./data.jsonl }
transform:
  id: "{{ id }}"
  body: { model: gpt-4o-mini, messages: [{ role: user, content: "{{ text }}" }] }
batch: { poll_interval: 50ms, max_requests: 50000 }
sinks: [{ use: jsonl, path: ./out/large.jsonl, fields: [id, status] }]
`;

let server: ViewServer;
let browser: Browser;
let run: string;

beforeAll(async () => {
  const dir = tempDir("bp-view-chart-");
  fs.writeFileSync(
    path.join(dir, "data.jsonl"),
    Array.from({ length: 100_000 }, (_, i) => `{"id":"d${i}","text":"t${i}"}\n`).join(""),
  );
  fs.writeFileSync(path.join(dir, "large.yaml"), spec);
  const done = await batchpipe(["run", "large.yaml", "--json"], { cwd: dir });
  expect(done.code).toBe(0);
  run = String(done.events.find((e) => e.type === "run_started")?.run);
  const pipeline = await loadPipeline(path.join(dir, "large.yaml"), { env: {}, builtins: officialPlugins });
  server = await startViewServer({ pipelines: [{ pipeline }] });
  browser = await chromium.launch({ executablePath: "/usr/bin/chromium" });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

describe("the progress chart of a run of 100,000 requests", () => {
  it("shows its axis labels whole, inside the chart", async () => {
    const page = await browser.newPage();
    await page.goto(`${server.url}#/run/large/${run}`);
    await page.locator("svg.chart").waitFor();
    const labels = await page.evaluate(() => {
      const chart = document.querySelector("svg.chart")!.getBoundingClientRect();
      return [...document.querySelectorAll("svg.chart text")].map((text) => {
        const box = text.getBoundingClientRect();
        return { text: text.textContent, inside: box.left >= chart.left && box.right <= chart.right };
      });
    });
    expect(labels.find((label) => label.text === "100,000")).toEqual({ text: "100,000", inside: true });
    expect(labels.every((label) => label.inside)).toBe(true);
    await page.close();
  }, 60_000);
});
