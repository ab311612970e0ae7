/**
 * A live run's page, polled every 1.5 s, changes only what changed: the page's elements stay (a
 * table scrolled sideways in a narrow window stays scrolled, a selection stays) while its progress
 * moves. A live run's records page shows the records delivered after it opened. A real run started in the background (`run --detach`) against the emulator provider at
 * real speed, the viewer's server in this process, headless Chromium (Debian's) via playwright-core.
 */
import fs from "node:fs";
import path from "node:path";
import { loadPipeline } from "@batchpipe/core";
import { type Browser, chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { batchpipe, officialPlugins, tempDir, waitFor } from "../../batchpipe/test/support/harness.js";
import { startViewServer, type ViewServer } from "../src/index.js";

/** 60 records, 10 a batch, a batch at a time: some 15 s */
const spec = (name: string) => `version: 1
name: ${name}
provider:
  use: emulator
  emulator: { timeScale: 1, latencies: { validation: 0.5, linesPerSecond: 10, finalizing: 0.2 } }
source: { use: jsonl, path: ./data.jsonl }
transform:
  id: "{{ id }}"
  body: { model: gpt-4o-mini, max_tokens: 20, messages: [{ role: user, content: "{{ text }}" }] }
batch: { poll_interval: 200ms, max_requests: 10, max_enqueued_tokens: 200 }
sinks: [{ use: jsonl, path: ./out/${name}.jsonl }]
`;

let dir: string;
let server: ViewServer;
let browser: Browser;

beforeAll(async () => {
  dir = tempDir("bp-view-live-");
  fs.writeFileSync(
    path.join(dir, "data.jsonl"),
    Array.from(
      { length: 60 },
      (_, i) => `${JSON.stringify({ id: `d${i + 1}`, text: `line ${i + 1}` })}\n`,
    ).join(""),
  );
  const pipelines = [];
  for (const name of ["slow", "slow2", "slow3"]) {
    const file = path.join(dir, `${name}.yaml`);
    fs.writeFileSync(file, spec(name));
    pipelines.push({ pipeline: await loadPipeline(file, { env: {}, builtins: officialPlugins }) });
  }
  server = await startViewServer({ pipelines });
  browser = await chromium.launch({ executablePath: "/usr/bin/chromium" });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
  // the background run, if a failure left it going
  for (const name of ["slow", "slow2", "slow3"])
    await batchpipe(["cancel", `${name}.yaml`], { cwd: dir }).catch(() => undefined);
});

describe("a live run's page", () => {
  it("keeps its elements while it polls: the batches table stays scrolled sideways, the title selected", async () => {
    const page = await browser.newPage({ viewport: { width: 400, height: 800 } });
    expect((await batchpipe(["run", "slow.yaml", "--detach"], { cwd: dir })).code).toBe(0);
    let run = "";
    await waitFor(
      async () => {
        const body = (await (await fetch(new URL("/api/runs", server.url))).json()) as {
          pipelines: { runs: { id: string }[] }[];
        };
        run = body.pipelines[0]!.runs[0]?.id ?? "";
        return run !== "";
      },
      30_000,
      "the run to start",
    );
    await page.goto(`${server.url}#/run/slow/${run}`);
    await page.locator("table.batches tbody tr").first().waitFor();
    await page.waitForFunction(() => document.getElementById("live")?.textContent === "● live");
    // the user scrolls the batches table sideways and selects the run's title
    const before = await page.evaluate(() => {
      const box = document.querySelector("table.batches")!.closest(".scroll") as HTMLElement & {
        mark?: number;
      };
      box.scrollLeft = 200;
      box.mark = 1;
      window.getSelection()!.selectAllChildren(document.querySelector("main h1")!);
      return { scrolled: box.scrollLeft, progress: document.getElementById("progress")!.textContent };
    });
    expect(before.scrolled).toBeGreaterThan(0);
    // the progress moves: polls redrew the page
    await page.waitForFunction(
      (shown) => document.getElementById("progress")?.textContent !== shown,
      before.progress,
      { timeout: 30_000 },
    );
    const after = await page.evaluate(() => {
      const box = document.querySelector("table.batches")!.closest(".scroll") as HTMLElement & {
        mark?: number;
      };
      return { same: box.mark === 1, scrolled: box.scrollLeft, selected: window.getSelection()!.toString() };
    });
    expect(after).toEqual({ same: true, scrolled: before.scrolled, selected: `Run ${run}` });
    await page.close();
  }, 90_000);
});

describe("a live run's records page", () => {
  it("shows the records delivered after it opened, on its page and with its filter, without a reload", async () => {
    const listing = await browser.newPage();
    const search = await browser.newPage();
    expect((await batchpipe(["run", "slow2.yaml", "--detach"], { cwd: dir })).code).toBe(0);
    let run = "";
    await waitFor(
      async () => {
        const body = (await (await fetch(new URL("/api/runs", server.url))).json()) as {
          pipelines: { name: string; runs: { id: string }[] }[];
        };
        run = body.pipelines.find((p) => p.name === "slow2")!.runs[0]?.id ?? "";
        return run !== "";
      },
      30_000,
      "the run to start",
    );
    // opened while the run is young: few records or none delivered yet
    await listing.goto(`${server.url}#/records/slow2/${run}`);
    await search.goto(`${server.url}#/records/slow2/${run}?q=${encodeURIComponent("line 5")}`);
    await listing.locator("#scan-state").waitFor();
    const opened = await listing.locator("table.records tbody tr").count();
    expect(opened).toBeLessThan(50);
    // a reload would lose this
    await listing.evaluate(() => Object.assign(window, { mark: 1 }));
    await listing.locator("table.records tbody tr").nth(49).waitFor({ timeout: 60_000 });
    await listing.locator(".pager button", { hasText: "Next →" }).waitFor({ timeout: 30_000 });
    expect(await listing.locator("#scan-state").textContent()).toMatch(/^records 1–50 · /);
    expect(await listing.evaluate(() => (window as unknown as { mark?: number }).mark)).toBe(1);
    // the search's page: "line 5" and "line 50" to "line 59", as they are delivered
    await waitFor(
      async () => {
        const url = new URL("/api/run", server.url);
        url.searchParams.set("pipeline", "slow2");
        url.searchParams.set("run", run);
        return ((await (await fetch(url)).json()) as { run: { status: string } }).run.status === "done";
      },
      60_000,
      "the run to end",
    );
    // the page read the records once more at the run's end, and is live no more
    await search.waitForFunction(
      () =>
        document.getElementById("live")?.textContent === "" &&
        document.querySelectorAll("table.records tbody tr").length === 11,
      null,
      { timeout: 10_000 },
    );
    const ids = await search.locator("table.records tbody tr td:first-child").allTextContents();
    expect(ids.sort()).toEqual(["d5", "d50", "d51", "d52", "d53", "d54", "d55", "d56", "d57", "d58", "d59"]);
    expect(await search.locator("#scan-state").textContent()).toBe("searched all of the run's records");
    await listing.close();
    await search.close();
  }, 120_000);
});

describe("a live run's search page", () => {
  it("reads only what the run adds at each delivery, not its whole records again", async () => {
    const page = await browser.newPage();
    const answers: { total: number }[] = [];
    page.on("response", async (response) => {
      if (response.url().includes("/api/records?")) answers.push(await response.json());
    });
    expect((await batchpipe(["run", "slow3.yaml", "--detach"], { cwd: dir })).code).toBe(0);
    let run = "";
    await waitFor(
      async () => {
        const body = (await (await fetch(new URL("/api/runs", server.url))).json()) as {
          pipelines: { name: string; runs: { id: string }[] }[];
        };
        run = body.pipelines.find((p) => p.name === "slow3")!.runs[0]?.id ?? "";
        return run !== "";
      },
      30_000,
      "the run to start",
    );
    await page.goto(`${server.url}#/records/slow3/${run}?q=${encodeURIComponent("line 1")}`);
    // "line 1" and "line 10" to "line 19", as they are delivered; the page is live no more at the end
    await page.waitForFunction(
      () =>
        document.getElementById("live")?.textContent === "" &&
        document.querySelectorAll("table.records tbody tr").length === 11,
      null,
      { timeout: 60_000 },
    );
    const ids = await page.locator("table.records tbody tr td:first-child").allTextContents();
    expect(ids.sort()).toEqual(["d1", "d10", "d11", "d12", "d13", "d14", "d15", "d16", "d17", "d18", "d19"]);
    // read again at several deliveries, each byte of the records once
    expect(answers.length).toBeGreaterThan(2);
    // (the run failed none: its records are all in its jsonl sink)
    const size = fs.statSync(path.join(dir, "out", "slow3.jsonl")).size;
    expect(answers.reduce((sum, a) => sum + a.total, 0)).toBe(size);
    await page.close();
  }, 120_000);
});
