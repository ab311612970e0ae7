/**
 * A pipeline run to its end by the real CLI, the viewer's server over it in this process, and
 * headless Chromium (Debian's) via playwright-core: what a test of a run's page starts from.
 */
import fs from "node:fs";
import path from "node:path";
import { loadPipeline } from "@batchpipe/core";
import { type Browser, chromium } from "playwright-core";
import { expect } from "vitest";
import { batchpipe, officialPlugins, tempDir } from "../../../batchpipe/test/support/harness.js";
import { startViewServer, type ViewServer } from "../../src/index.js";

export interface ViewedRun {
  server: ViewServer;
  browser: Browser;
  /** the run's id */
  run: string;
  close(): Promise<void>;
}

/** `spec` (its file `<name>.yaml`) run over `data` (data.jsonl beside it), then viewed */
export async function viewedRun(name: string, spec: string, data: string): Promise<ViewedRun> {
  const dir = tempDir(`bp-view-${name}-`);
  fs.writeFileSync(path.join(dir, "data.jsonl"), data);
  fs.writeFileSync(path.join(dir, `${name}.yaml`), spec);
  const done = await batchpipe(["run", `${name}.yaml`, "--json"], { cwd: dir });
  expect(done.code, done.stderr).toBe(0);
  const run = String(done.events.find((e) => e.type === "run_started")?.run);
  const pipeline = await loadPipeline(path.join(dir, `${name}.yaml`), { env: {}, builtins: officialPlugins });
  const server = await startViewServer({ pipelines: [{ pipeline }] });
  const browser = await chromium.launch({ executablePath: "/usr/bin/chromium" });
  return {
    server,
    browser,
    run,
    async close() {
      await browser.close();
      await server.close();
    },
  };
}
