/**
 * The progress chart's labels stay inside it: the request count at the top of its axis (`100,000`)
 * was cut to `00,000` by the chart's left edge. A real run of 100,000 records (two batches, the
 * in-process emulator), the viewer's server in this process, headless Chromium (Debian's).
 */
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ViewServer } from "../src/index.js";
import { type ViewedRun, viewedRun } from "./support/viewed-run.js";

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

let viewed: ViewedRun;
let server: ViewServer;
let browser: Browser;
let run: string;

beforeAll(async () => {
  viewed = await viewedRun(
    "large",
    spec,
    Array.from({ length: 100_000 }, (_, i) => `{"id":"d${i}","text":"t${i}"}\n`).join(""),
  );
  ({ server, browser, run } = viewed);
}, 120_000);

afterAll(async () => {
  await viewed?.close();
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
