/**
 * `batchpipe view` driven in real headless Chromium (Debian's `chromium` package, through
 * playwright-core): the quickstart's run with its counts and cost, search, the failure-code filter,
 * a record's page, a run started while the page is open, and model output holding HTML shown as text.
 * UPDATE_SCREENSHOTS=1 also writes the run page's screenshot to docs/img/view-run.png (the README's).
 */
import fs from "node:fs";
import path from "node:path";
import { formatMoney } from "@batchpipe/core";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  batchpipe,
  ROOT,
  type RunningChild,
  report,
  signalOnce,
  startBatchpipe,
  tempDir,
  waitFor,
} from "../../batchpipe/test/support/harness.js";

const CHROMIUM = "/usr/bin/chromium";
const HTML = "<img src=x onerror=alert(1)>";

/** a pipeline echoing its input (the emulator answers with the user message) one batch at a time */
const LIVE_SPEC = `version: 1
name: live-demo
provider:
  use: emulator
  emulator: { timeScale: 1, latencies: { validation: 0.5, linesPerSecond: 10, finalizing: 0.2 } }
source: { use: jsonl, path: ./live-data.jsonl }
transform:
  id: "{{ id }}"
  body: { model: gpt-4o-mini, max_tokens: 20, messages: [{ role: user, content: "{{ text }}" }] }
batch: { poll_interval: 200ms, max_requests: 10, max_enqueued_tokens: 200 }
# the viewer shows a record's input and request from the rows: keep them whole
sinks: [{ use: jsonl, path: ./out/live.jsonl, fields: all }]
`;

let dir: string;
let viewer: RunningChild;
let url: string;
let browser: Browser;
let page: Page;
let quickstart: Record<string, unknown>;
const dialogs: string[] = [];

beforeAll(async () => {
  dir = tempDir("bp-view-");
  fs.cpSync(path.join(ROOT, "examples/quickstart"), dir, { recursive: true });
  fs.rmSync(path.join(dir, ".batchpipe"), { recursive: true, force: true });
  fs.rmSync(path.join(dir, "out"), { recursive: true, force: true });
  // the viewer shows a record's input and request from the rows: keep them whole
  const quickstartSpec = path.join(dir, "pipeline.yaml");
  fs.writeFileSync(
    quickstartSpec,
    fs
      .readFileSync(quickstartSpec, "utf8")
      .replace(
        "{ use: jsonl, path: ./out/results.jsonl }",
        "{ use: jsonl, path: ./out/results.jsonl, fields: all }",
      ),
  );
  // one record whose text is HTML, one without the field the template needs, one invalid line
  fs.appendFileSync(
    path.join(dir, "data.jsonl"),
    `${JSON.stringify({ id: "html-1", text: HTML })}\n${JSON.stringify({ id: "no-text" })}\nnot json\n`,
  );
  fs.writeFileSync(
    path.join(dir, "live-data.jsonl"),
    Array.from(
      { length: 30 },
      (_, i) => `${JSON.stringify({ id: `d${i + 1}`, text: i === 6 ? HTML : `line ${i + 1}` })}\n`,
    ).join(""),
  );
  fs.writeFileSync(path.join(dir, "live.yaml"), LIVE_SPEC);
  const run = await batchpipe(["run", "pipeline.yaml", "--json"], { cwd: dir });
  expect(run.code).toBe(3);
  quickstart = report(run)!;

  // the folder: both specs are found
  viewer = startBatchpipe(["view", ".", "--port", "0"], { cwd: dir, timeoutMs: 600_000 });
  await waitFor(() => /listening on (\S+)/.test(viewer.stdout()), 30_000, "the viewer's URL");
  url = /listening on (\S+)/.exec(viewer.stdout())![1]!;
  browser = await chromium.launch({ executablePath: CHROMIUM });
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.on("dialog", (dialog) => {
    dialogs.push(dialog.message());
    void dialog.dismiss();
  });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  if (viewer) {
    signalOnce(viewer.child, "SIGTERM");
    await viewer.done;
  }
});

/** as the CLI's report writes it */
const money = formatMoney;

describe("batchpipe view in Chromium", () => {
  it("lists the quickstart's run with its counts and cost", async () => {
    await page.goto(url);
    const row = page.locator(
      `section[data-pipeline="quickstart-sentiment"] tr[data-run="${quickstart.run}"]`,
    );
    await row.waitFor();
    expect(await row.locator('[data-col="read"]').textContent()).toBe(String(quickstart.read));
    expect(await row.locator('[data-col="succeeded"]').textContent()).toBe(String(quickstart.succeeded));
    expect(await row.locator('[data-col="failed"]').textContent()).toBe("2");
    expect(await row.locator('[data-col="cost"]').textContent()).toBe(money(quickstart.cost as number));
    expect(await row.locator('[data-col="estimated"]').textContent()).toBe(
      money(quickstart.estimatedCost as number),
    );
    expect(await page.locator('section[data-pipeline="live-demo"]').textContent()).toContain("No run yet.");
  });

  it("shows the run page with its batches (the README's screenshot)", async () => {
    await page.goto(url);
    await page.click(`a[href="#/run/${await key("quickstart-sentiment")}/${quickstart.run}"]`);
    await page.locator("table.batches tbody tr").first().waitFor();
    expect(await page.locator("table.batches tbody tr").count()).toBe(quickstart.batches);
    expect(await page.locator("#progress").textContent()).toContain("203 / 203");
    const shot = await page.screenshot({ fullPage: true });
    expect(shot.subarray(1, 4).toString()).toBe("PNG");
    if (process.env.UPDATE_SCREENSHOTS === "1")
      fs.writeFileSync(path.join(ROOT, "docs/img/view-run.png"), shot);
  });

  it("finds the record holding a searched word", async () => {
    await page.goto(`${url}#/records/${await key("quickstart-sentiment")}/${quickstart.run}`);
    await page.locator("table.records tbody tr").first().waitFor();
    expect(await page.locator("table.records tbody tr").count()).toBe(50);
    await page.fill('input[name="q"]', "ONERROR");
    await page.click('form.filters button[type="submit"]');
    await waitFor(
      async () => (await page.locator("#scan-state").textContent()) === "searched all of the run's records",
      10_000,
      "the search",
    );
    const ids = await page.locator("table.records tbody tr td:first-child").allTextContents();
    expect(ids).toEqual(["html-1"]);
  });

  it("filters by a failure code", async () => {
    // a fresh page: going from the last test's records page to this one changes only the hash, and
    // on a loaded machine its form (q=ONERROR) was still there to be filled and submitted
    await page.goto("about:blank");
    await page.goto(`${url}#/records/${await key("quickstart-sentiment")}/${quickstart.run}`);
    await page.locator('select[name="code"] option[value="invalid_input"]').waitFor({ state: "attached" });
    await page.selectOption('select[name="code"]', "template_error");
    await page.click('form.filters button[type="submit"]');
    await page.locator('tr[data-code="template_error"]').waitFor();
    const codes = await page
      .locator("table.records tbody tr")
      .evaluateAll((rows) => rows.map((r) => r.getAttribute("data-code")));
    expect(codes).toEqual(["template_error"]);
    expect(await page.locator("table.records tbody").textContent()).toContain("no-text");
  });

  it("shows a record's input and output", async () => {
    await page.goto(`${url}#/records/${await key("quickstart-sentiment")}/${quickstart.run}?q=review-017`);
    await page.click('table.records a:text-is("review-017")');
    await page.locator("#output").waitFor();
    expect(await page.locator("#record-id").textContent()).toBe("review-017");
    const input = JSON.parse(fs.readFileSync(path.join(dir, "data.jsonl"), "utf8").split("\n")[16]!) as {
      text: string;
    };
    expect(await page.locator("#input").textContent()).toContain(JSON.stringify(input.text));
    expect(await page.locator("#output").textContent()).toMatch(/sentiment.*"(positive|negative|neutral)"/s);
    expect(await page.locator("#request").textContent()).toContain("Classify the sentiment");
  });

  it("shows a run started while the page is open, and its progress moves", async () => {
    await page.goto(url);
    await page.locator('section[data-pipeline="live-demo"]').waitFor();
    // a background run, as from another terminal
    const started = await batchpipe(["run", "live.yaml", "--detach"], { cwd: dir });
    expect(started.code).toBe(0);
    const row = page.locator('section[data-pipeline="live-demo"] tr[data-run]');
    await row.waitFor({ timeout: 30_000 });
    await row.locator("a").click();
    const seen = new Set<string>();
    await waitFor(
      async () => {
        const text =
          (await page
            .locator("#progress")
            .textContent()
            .catch(() => null)) ?? "";
        if (text) seen.add(text.split(" (")[0]!);
        return text.startsWith("30 / 30");
      },
      60_000,
      "the run to finish on the page",
    );
    // it moved through at least one value between nothing done and all done
    expect([...seen].some((t) => /^[1-9]\d* \/ 30$/.test(t) && t !== "30 / 30")).toBe(true);
    await page.locator('.badge[data-status="done"]').first().waitFor();
  });

  it("off loopback, works with the access token of the URL it printed, and not without", async () => {
    const remote = startBatchpipe(["view", ".", "--host", "0.0.0.0", "--port", "0"], { cwd: dir });
    try {
      await waitFor(() => /listening on (\S+)/.test(remote.stdout()), 30_000, "the viewer's URL");
      const printed = new URL(/listening on (\S+)/.exec(remote.stdout())![1]!);
      expect(printed.searchParams.get("token")).toMatch(/^[0-9a-f]{48}$/);
      printed.hostname = "127.0.0.1";
      const other = await browser.newPage();
      await other.goto(printed.href);
      await other.locator('section[data-pipeline="quickstart-sentiment"] tr[data-run]').waitFor();
      const denied = await other.goto(`http://127.0.0.1:${printed.port}/?token=${"0".repeat(48)}`);
      expect(denied?.status()).toBe(403);
      await other.close();
    } finally {
      signalOnce(remote.child, "SIGTERM");
      await remote.done;
    }
  });

  it("renders model output holding HTML as text", async () => {
    const live = await pipelineOf("live-demo");
    await page.goto(`${url}#/records/${live.key}/${live.runs[0]!.id}?q=onerror`);
    await page.click('table.records a:text-is("d7")');
    await page.locator("#output").waitFor();
    expect(await page.locator("#output pre").textContent()).toContain(HTML);
    expect(await page.locator("#input").textContent()).toContain(JSON.stringify(HTML));
    expect(await page.locator("main img").count()).toBe(0);
    expect(dialogs).toEqual([]);
  });
});

async function pipelineOf(name: string): Promise<{ key: string; runs: { id: string }[] }> {
  const res = await fetch(new URL("/api/runs", url));
  const body = (await res.json()) as { pipelines: { key: string; name: string; runs: { id: string }[] }[] };
  return body.pipelines.find((p) => p.name === name)!;
}

/** a pipeline's key in the viewer's URLs */
async function key(name: string): Promise<string> {
  return (await pipelineOf(name)).key;
}
