/**
 * `batchpipe view` as a user meets it: a run whose failed requests were retried (the emulator fails
 * two requests' first attempt), with a record the template cannot render; a run of an empty dataset;
 * the page in a 400 px wide window and driven from the keyboard while it polls. Real runs through the
 * CLI and the official openai provider against the emulator, the viewer's server in this process,
 * headless Chromium (Debian's) through playwright-core.
 */
import fs from "node:fs";
import path from "node:path";
import { loadPipeline } from "@batchpipe/core";
import type { Emulator } from "@batchpipe/openai-emulator";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cli, officialPlugins, startEmulator, tempDir } from "../../batchpipe/test/support/harness.js";
import { startViewServer, type ViewServer } from "../src/index.js";

const env = { OPENAI_API_KEY: "sk-test" };

let emu: Emulator;
let server: ViewServer;
let reversed: ViewServer;
let browser: Browser;
let page: Page;
/** pipeline name → its spec file */
const specFiles: Record<string, string> = {};
/** pipeline name → its key and its one run */
const runs: Record<string, { key: string; run: string }> = {};

beforeAll(async () => {
  // the first attempt of r03 and r47 fails (server_error); their second attempt succeeds
  emu = await startEmulator({
    lineRules: [{ customIds: ["r03", "r47"], error: "server_error", attempts: 1 }],
  });
  const dir = tempDir("bp-view-use-");
  // 60 records, r10 without the text the template needs, r20's text JSON (the emulator answers with it)
  fs.writeFileSync(
    path.join(dir, "data.jsonl"),
    Array.from({ length: 60 }, (_, i) => {
      const id = `r${String(i + 1).padStart(2, "0")}`;
      const text = id === "r20" ? JSON.stringify({ label: "positive", score: 0.9 }) : `review ${id}`;
      return `${JSON.stringify(id === "r10" ? { id } : { id, text })}\n`;
    }).join(""),
  );
  fs.writeFileSync(path.join(dir, "empty.jsonl"), "");
  fs.writeFileSync(
    path.join(dir, "cached.jsonl"),
    Array.from({ length: 5 }, (_, i) => `${JSON.stringify({ id: `c${i}`, text: `cached ${i}` })}\n`).join(""),
  );
  fs.writeFileSync(path.join(dir, "plain.jsonl"), `${JSON.stringify({ id: "p1", text: "plain review" })}\n`);
  const specs = [
    ["retried", "./data.jsonl", "fields: all"],
    ["empty", "./empty.jsonl", "fields: all"],
    // the sink's default fields: no input, no response
    ["plain", "./plain.jsonl", ""],
    // run twice: the second run's answers come from the result cache
    ["cached", "./cached.jsonl", ""],
  ].map(([name, data, fields]) => {
    const file = path.join(dir, `${name}.yaml`);
    fs.writeFileSync(
      file,
      [
        "version: 1",
        `name: ${name}`,
        `provider: { use: openai, base_url: "${emu.url}" }`,
        `source: { use: jsonl, path: ${data} }`,
        "transform:",
        '  id: "{{ id }}"',
        '  body: { model: gpt-4o-mini, max_tokens: 20, messages: [{ role: user, content: "{{ text }}" }] }',
        "batch: { poll_interval: 50ms, max_requests: 25 }",
        `sinks: [{ use: jsonl, path: ./out/${name}.jsonl${fields ? `, ${fields}` : ""} }]`,
        `errors: [{ use: jsonl, path: ./out/${name}-errors.jsonl }]`,
        "",
      ].join("\n"),
    );
    return file;
  });
  // Anthropic's batches mix models: its shards carry no model
  const anthropic = path.join(dir, "anthropic.yaml");
  fs.writeFileSync(
    anthropic,
    [
      "version: 1",
      "name: anthropic",
      "provider: { use: emulator, api: anthropic, max_enqueued_requests: 500, emulator: { timeScale: 3600 } }",
      "source: { use: jsonl, path: ./plain.jsonl }",
      "transform:",
      '  id: "{{ id }}"',
      '  body: { model: claude-haiku-4-5, max_tokens: 20, messages: [{ role: user, content: "{{ text }}" }] }',
      "batch: { poll_interval: 50ms }",
      "sinks: [{ use: jsonl, path: ./out/anthropic.jsonl }]",
      "",
    ].join("\n"),
  );
  specs.push(anthropic);
  for (const spec of specs) specFiles[path.basename(spec, ".yaml")] = spec;
  for (const spec of specs) expect((await cli(["run", spec], { env })).code).toBeLessThanOrEqual(3);
  expect((await cli(["run", path.join(dir, "cached.yaml"), "--force"], { env })).code).toBe(0);
  const pipelines = [];
  for (const spec of specs)
    pipelines.push({ pipeline: await loadPipeline(spec, { env, builtins: officialPlugins }) });
  server = await startViewServer({ pipelines });
  // the same pipelines, listed the other way round (a spec added to the folder, another viewer)
  reversed = await startViewServer({ pipelines: [...pipelines].reverse() });
  const body = (await (await fetch(new URL("/api/runs", server.url))).json()) as {
    pipelines: { key: string; name: string; runs: { id: string }[] }[];
  };
  for (const p of body.pipelines) runs[p.name] = { key: p.key, run: p.runs[0]!.id };
  browser = await chromium.launch({ executablePath: "/usr/bin/chromium" });
  page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
  await reversed?.close();
  await emu?.close();
});

async function api<T>(route: string, params: Record<string, string>): Promise<T> {
  const url = new URL(route, server.url);
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  return (await (await fetch(url)).json()) as T;
}

const hash = (page: string, name: string, rest = "") =>
  `${server.url}#/${page}/${runs[name]!.key}/${runs[name]!.run}${rest}`;

describe("the viewer's figures", () => {
  it("the progress chart counts a retried request once: it ends at the run's requests, not above", async () => {
    const { key, run } = runs.retried!;
    const data = await api<{
      progress: { points: [number, number][]; total: number };
      counters: { retried: number; succeeded: number };
    }>("/api/run", { pipeline: key, run });
    expect(data.counters.retried).toBe(2);
    // 60 records, r10 failed at the template: 59 requests, r03 and r47 sent twice
    expect(data.progress.total).toBe(59);
    expect(data.progress.points.at(-1)![1]).toBe(59);
  });

  it("a record that failed before it was sent has no request, not one 'rendered again'", async () => {
    const { key, run } = runs.retried!;
    const page = await api<{ rows: { ref: string; id: string }[] }>("/api/records", {
      pipeline: key,
      run,
      code: "template_error",
    });
    expect(page.rows.map((r) => r.id)).toEqual(["r10"]);
    const record = await api<{ request: unknown }>("/api/record", {
      pipeline: key,
      run,
      ref: page.rows[0]!.ref,
    });
    expect(record.request).toBeNull();
  });

  it("a record sent in a batch whose request is gone (shard files removed, no input kept) says so", async () => {
    const { key, run } = runs.plain!;
    const list = await api<{ rows: { ref: string }[] }>("/api/records", { pipeline: key, run });
    const ref = list.rows[0]!.ref;
    const record = await api<{ row: { attempts: number }; request: unknown }>("/api/record", {
      pipeline: key,
      run,
      ref,
    });
    expect(record.row.attempts).toBe(1);
    expect(record.request).toEqual({ from: "gone" });
    await page.goto("about:blank");
    await page.goto(`${hash("record", "plain")}/${encodeURIComponent(ref)}`);
    await page.locator("#request").waitFor();
    expect(await page.locator("#request").textContent()).toBe(
      "RequestNot kept: the run removed its shard files, and this sink keeps no input to render the request again from: add input to its fields (or fields: all).",
    );
  });
});

describe("links to a pipeline's pages", () => {
  it("stay the same when the viewer lists its pipelines in another order (a bookmark, a viewer restarted)", async () => {
    const keys = async (view: ViewServer) => {
      const body = (await (await fetch(new URL("/api/runs", view.url))).json()) as {
        pipelines: { key: string; name: string }[];
      };
      return Object.fromEntries(body.pipelines.map((p) => [p.name, p.key]));
    };
    const before = await keys(server);
    expect(await keys(reversed)).toEqual(before);
    // and a link made from one viewer opens the same run on the other
    const { run } = runs.retried!;
    const url = new URL("/api/run", reversed.url);
    url.searchParams.set("pipeline", before.retried!);
    url.searchParams.set("run", run);
    const data = (await (await fetch(url)).json()) as { pipeline?: { name: string } };
    expect(data.pipeline?.name).toBe("retried");
  });
});

describe("a viewer restarted while its page is open", () => {
  it("the runs page says it cannot reach the viewer, then comes back when it answers again", async () => {
    const pipelines = [
      { pipeline: await loadPipeline(specFiles.retried!, { env, builtins: officialPlugins }) },
    ];
    let first = await startViewServer({ pipelines });
    const port = first.port;
    const other = await browser.newPage();
    try {
      await other.goto(first.url);
      await other.locator("table.runs").waitFor();
      await first.close();
      // a poll fails: the page says so
      await other.locator("main p.error").waitFor({ timeout: 10_000 });
      expect(await other.locator("main p.error").textContent()).toBe(
        "The viewer does not answer (stopped or restarting?): trying again every 1.5 s.",
      );
      first = await startViewServer({ pipelines, port });
      // and the next polls find it again
      await other.locator("table.runs").waitFor({ timeout: 10_000 });
    } finally {
      await other.close();
      await first.close();
    }
  });
});

describe("the page in Chromium", () => {
  it("keeps the keyboard's focus on the link it was on while the runs page polls", async () => {
    await page.goto(server.url);
    await page.locator("table.runs").first().waitFor();
    const link = `a[href="#/run/${runs.empty!.key}/${runs.empty!.run}"]`;
    await page.focus(link);
    // two polls (every 1.5 s) re-render the page
    await page.waitForTimeout(3500);
    expect(await page.evaluate(() => document.activeElement?.getAttribute("href") ?? null)).toBe(
      `#/run/${runs.empty!.key}/${runs.empty!.run}`,
    );
    await page.keyboard.press("Enter");
    await page.locator("table.batches").waitFor();
    expect(page.url()).toBe(hash("run", "empty"));
  });

  it("keeps a selection on the runs page while it polls and nothing changed (one can copy a run's id)", async () => {
    await page.goto("about:blank");
    await page.goto(server.url);
    const cell = `tr[data-run="${runs.retried!.run}"] td:first-child`;
    await page.locator(cell).waitFor();
    await page.evaluate((selector) => {
      const td = document.querySelector(selector)!;
      window.getSelection()!.selectAllChildren(td);
    }, cell);
    // two polls (every 1.5 s)
    await page.waitForTimeout(3500);
    expect(await page.evaluate(() => window.getSelection()!.toString())).toBe(runs.retried!.run);
  });

  it("fits a 400 px wide window: no page scrolls sideways (wide tables scroll in their box)", async () => {
    const narrow = await browser.newPage({ viewport: { width: 400, height: 800 } });
    const { key, run } = runs.retried!;
    const records = await api<{ rows: { ref: string }[] }>("/api/records", { pipeline: key, run });
    const widths: Record<string, number> = {};
    for (const [name, url, ready] of [
      ["runs", server.url, "table.runs"],
      ["run", hash("run", "retried"), "table.batches"],
      ["records", hash("records", "retried"), "table.records tbody tr"],
      ["record", `${hash("record", "retried")}/${encodeURIComponent(records.rows[0]!.ref)}`, "#output"],
      ["failures", hash("failures", "retried"), "section.failure"],
    ] as const) {
      await narrow.goto("about:blank");
      await narrow.goto(url);
      await narrow.locator(ready).first().waitFor();
      widths[name] = await narrow.evaluate(() => document.documentElement.scrollWidth);
    }
    await narrow.close();
    expect(widths).toEqual({ runs: 400, run: 400, records: 400, record: 400, failures: 400 });
  });

  it("shows a run of an empty dataset as done with nothing to show, not 0% done and blank tables", async () => {
    await page.goto("about:blank");
    await page.goto(hash("run", "empty"));
    await page.locator("table.batches").waitFor();
    expect(await page.locator("#progress").textContent()).toBe("0 / 0 (100%)");
    expect(await page.locator("table.batches tbody").textContent()).toBe("No batch: nothing was sent.");
    await page.goto("about:blank");
    await page.goto(hash("records", "empty"));
    await waitForText("#scan-state");
    expect(await page.locator("#scan-state").textContent()).toBe("This run has no records.");
  });
});

describe("an Anthropic run (batches that mix models)", () => {
  it("names no model where the batches have none: 'all models', not blank cells", async () => {
    await page.goto("about:blank");
    await page.goto(hash("run", "anthropic"));
    await page.locator("table.batches tbody tr").first().waitFor();
    const column = async (table: string, n: number) =>
      page.locator(`${table} tbody tr td:nth-child(${n})`).allTextContents();
    expect(await column("table.batches", 3)).toEqual(["all models"]);
    expect(await column("table.queue", 1)).toEqual(["all models"]);
    expect(await column("table.costs", 1)).toEqual(["all models"]);
  });

  it("shows the queue as the provider counts it: Anthropic's requests (all models), OpenAI's tokens per model", async () => {
    const queue = async (name: string) => {
      await page.goto("about:blank");
      await page.goto(hash("run", name));
      await page.locator("table.queue tbody tr").first().waitFor();
      return {
        title: await page.evaluate(
          () =>
            document.querySelector("table.queue")?.closest(".scroll")?.previousElementSibling?.textContent,
        ),
        heads: await page.locator("table.queue th").allTextContents(),
        limit: await page.locator("table.queue tbody tr td:nth-child(4)").allTextContents(),
      };
    };
    expect(await queue("anthropic")).toEqual({
      title: "Queue (all models)",
      heads: ["model", "open batches", "enqueued requests", "limit"],
      // the provider's max_enqueued_requests
      limit: ["500"],
    });
    expect(await queue("retried")).toEqual({
      title: "Queue per model",
      heads: ["model", "open batches", "enqueued tokens (est.)", "limit"],
      // no max_enqueued_tokens: the engine learns the budget from the provider's refusals
      limit: ["none set, none learnt yet (the run learns one from the provider's refusals)"],
    });
  });
});

describe("where the page is", () => {
  it("names the pipeline in the crumbs and the window's title on every page of a run", async () => {
    const { key, run } = runs.retried!;
    const list = await api<{ rows: { ref: string }[] }>("/api/records", { pipeline: key, run });
    const seen: Record<string, [string, string]> = {};
    for (const [name, url, ready] of [
      ["run", hash("run", "retried"), "table.batches"],
      ["records", hash("records", "retried"), "table.records tbody tr"],
      ["record", `${hash("record", "retried")}/${encodeURIComponent(list.rows[0]!.ref)}`, "#output"],
      ["failures", hash("failures", "retried"), "section.failure"],
    ] as const) {
      await page.goto("about:blank");
      await page.goto(url);
      await page.locator(ready).first().waitFor();
      seen[name] = [(await page.locator("#crumbs").textContent())!, await page.title()];
    }
    expect(seen).toEqual({
      run: [` / runs / retried · ${run}`, `retried · ${run} — batchpipe view`],
      records: [` / runs / retried · ${run} / records`, `records · retried · ${run} — batchpipe view`],
      record: [` / runs / retried · ${run} / records / record`, `record · retried · ${run} — batchpipe view`],
      failures: [` / runs / retried · ${run} / failures`, `failures · retried · ${run} — batchpipe view`],
    });
  });
});

describe("the records filters", () => {
  it("have names a screen reader says, not only a placeholder", async () => {
    await page.goto("about:blank");
    await page.goto(hash("records", "retried"));
    await page.locator("table.records tbody tr").first().waitFor();
    expect(await page.getByRole("searchbox", { name: "search the records" }).count()).toBe(1);
    expect(await page.getByRole("combobox", { name: "status" }).count()).toBe(1);
    expect(await page.getByRole("combobox", { name: "failure code" }).count()).toBe(1);
  });
});

describe("a run answered from the result cache", () => {
  it("says how many results came from the cache, not only 5 succeeded with no batch and no cost", async () => {
    await page.goto("about:blank");
    await page.goto(hash("run", "cached"));
    await page.locator("table.batches").waitFor();
    expect(await page.locator("#succeeded").textContent()).toBe("5");
    expect(await page.locator("#cached").textContent()).toBe("5 (paid for in an earlier run)");
  });
});

describe("a record's output", () => {
  it("shows text holding JSON as a collapsible tree, as README says", async () => {
    const { key, run } = runs.retried!;
    const list = await api<{ rows: { ref: string }[] }>("/api/records", { pipeline: key, run, q: "r20" });
    await page.goto("about:blank");
    await page.goto(`${hash("record", "retried")}/${encodeURIComponent(list.rows[0]!.ref)}`);
    await page.locator("#output").waitFor();
    expect(await page.locator("#output details.json").count()).toBe(1);
    expect(await page.locator("#output li").allTextContents()).toEqual(['label: "positive"', "score: 0.9"]);
  });
});

describe("the records pager from the keyboard", () => {
  it("after Next, the focus is on the new page's first record, not lost to the page's body", async () => {
    await page.goto("about:blank");
    await page.goto(hash("records", "retried"));
    await page.locator("table.records tbody tr").nth(49).waitFor();
    // a listing, not a search: which records are shown
    expect(await page.locator("#scan-state").textContent()).toMatch(
      /^records 1–50 · \d+% of the run's records read$/,
    );
    await page.focus(".pager button");
    await page.keyboard.press("Enter");
    await page.waitForFunction(() => document.querySelectorAll("table.records tbody tr").length === 10);
    expect(await page.locator("#scan-state").textContent()).toBe(
      "records 51–60 · all of the run's records read",
    );
    const first = await page.locator("table.records tbody tr a").first().textContent();
    expect(await page.evaluate(() => document.activeElement?.textContent ?? null)).toBe(first);
    // and back
    await page.focus(".pager button");
    await page.keyboard.press("Enter");
    await page.waitForFunction(() => document.querySelectorAll("table.records tbody tr").length === 50);
    expect(await page.evaluate(() => document.activeElement?.closest("table.records") !== null)).toBe(true);
  });
});

async function waitForText(selector: string): Promise<void> {
  await page.waitForFunction((s) => (document.querySelector(s)?.textContent ?? "") !== "", selector);
}
