/**
 * `batchpipe view <folder>` while its specs are removed or renamed: a spec deleted is no longer
 * listed and its open page says it is gone; a spec renamed is listed once, under its key (its open
 * pages keep working); a spec written back at its place is listed again, its open page back. The CLI in a child process,
 * real runs against the in-process emulator, headless Chromium (Debian's) via playwright-core.
 */
import fs from "node:fs";
import path from "node:path";
import { type Browser, chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  batchpipe,
  type RunningChild,
  signalOnce,
  startBatchpipe,
  tempDir,
  waitFor,
} from "../../batchpipe/test/support/harness.js";

const spec = (name: string) => `version: 1
name: ${name}
provider: { use: emulator }
source: { use: jsonl, path: ./data.jsonl }
transform:
  id: "{{ id }}"
  body: { model: gpt-4o-mini, messages: [{ role: user, content: "{{ text }}" }] }
batch: { poll_interval: 100ms }
sinks: [{ use: jsonl, path: ./out/${name}.jsonl }]
`;

let dir: string;
let viewer: RunningChild;
let url: string;
let browser: Browser;
const runs: Record<string, string> = {};

beforeAll(async () => {
  dir = tempDir("bp-view-removed-");
  fs.writeFileSync(path.join(dir, "data.jsonl"), '{"id":"a","text":"one"}\n{"id":"b","text":"two"}\n');
  for (const name of ["kept", "doomed"]) {
    fs.writeFileSync(path.join(dir, `${name}.yaml`), spec(name));
    const run = await batchpipe(["run", `${name}.yaml`, "--json"], { cwd: dir });
    expect(run.code).toBe(0);
    runs[name] = String(run.events.find((e) => e.type === "run_started")?.run);
  }
  viewer = startBatchpipe(["view", ".", "--port", "0"], { cwd: dir, timeoutMs: 120_000 });
  await waitFor(() => /listening on (\S+)/.test(viewer.stdout()), 30_000, "the viewer's URL");
  url = /listening on (\S+)/.exec(viewer.stdout())![1]!;
  browser = await chromium.launch({ executablePath: "/usr/bin/chromium" });
}, 90_000);

afterAll(async () => {
  await browser?.close();
  if (viewer) {
    signalOnce(viewer.child, "SIGTERM");
    await viewer.done;
  }
});

async function listed(): Promise<string[]> {
  const body = (await (await fetch(new URL("/api/runs", url))).json()) as {
    pipelines: { key: string; file: string }[];
  };
  return body.pipelines.map((p) => `${p.key} ${path.basename(p.file)}`);
}

describe("a spec removed or renamed while the viewer runs", () => {
  it("is no longer listed, its open page says so; renamed, it keeps its key; written back, it is listed again and its page comes back", async () => {
    expect((await listed()).sort()).toEqual(["doomed doomed.yaml", "kept kept.yaml"]);
    const doomed = await browser.newPage();
    const kept = await browser.newPage();
    await doomed.goto(`${url}#/run/doomed/${runs.doomed}`);
    await kept.goto(`${url}#/run/kept/${runs.kept}`);
    await doomed.locator("table.batches tbody tr").first().waitFor();
    await kept.locator("table.batches tbody tr").first().waitFor();

    fs.rmSync(path.join(dir, "doomed.yaml"));
    fs.renameSync(path.join(dir, "kept.yaml"), path.join(dir, "renamed.yaml"));
    await waitFor(
      async () => (await listed()).join() === "kept renamed.yaml",
      10_000,
      "the list without the removed spec and with the renamed one once",
    );
    // the open page of the removed spec says it is gone
    await doomed.locator("#gone").waitFor({ timeout: 10_000 });
    expect(await doomed.locator("#gone").textContent()).toContain(
      `its spec file ${path.join(dir, "doomed.yaml")} was removed or renamed`,
    );
    expect(await doomed.locator("table.batches").count()).toBe(0);
    // the renamed spec's page is the same pipeline under the same key: it still answers
    await kept.reload();
    await kept.locator("table.batches tbody tr").first().waitFor();
    expect(await kept.locator("#gone").count()).toBe(0);

    // written back at its place, the spec is listed again
    fs.writeFileSync(path.join(dir, "doomed.yaml"), spec("doomed"));
    await waitFor(
      async () => (await listed()).sort().join() === "doomed doomed.yaml,kept renamed.yaml",
      10_000,
      "the spec written back listed again",
    );
    // and its page, open all along, shows the run again
    await doomed.locator("table.batches tbody tr").first().waitFor({ timeout: 10_000 });
    await doomed.close();
    await kept.close();
  }, 60_000);
});
