import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  checkExactlyOnce,
  type EmulatorProcess,
  ROOT,
  readJsonl,
  runNode,
  startEmulatorProcess,
  tempDir,
  waitFor,
} from "../../batchpipe/test/support/harness.js";
import { readDaemon } from "../src/daemon/daemon.js";

const expected = Array.from({ length: 30 }, (_, i) => `d${i + 1}`);

describe("Runner.run({ detach: true }) (emulator in its own process)", () => {
  let emulator: EmulatorProcess;
  beforeAll(async () => {
    emulator = await startEmulatorProcess({ timeScale: 1, latencies: { validation: 1, linesPerSecond: 3 } });
  });
  afterAll(async () => {
    await emulator?.close();
  });

  it("Runner.run({ detach: true }) re-runs the script in the background; run() runs in the child", async () => {
    const dir = tempDir("bp-daemon-runner-");
    // the batchpipe package's BatchRunner: the official plugins (here `use: openai`) known by name
    const batchpipe = path.join(ROOT, "packages/batchpipe/dist/index.js");
    const script = path.join(dir, "runner.mjs");
    fs.writeFileSync(
      script,
      `import { appendFileSync } from "node:fs";
import { BatchRunner } from ${JSON.stringify(batchpipe)};
class Runner extends BatchRunner {
  static workConfig = {
    name: "detached-runner", model: "gpt-4o-mini",
    provider: { use: "openai", base_url: ${JSON.stringify(emulator.url)} },
    batch: { poll_interval: "100ms", max_requests: 10 },
  };
  static async *upload() { for (let i = 1; i <= 30; i++) yield { id: "d" + i, messages: [{ role: "user", content: "r" + i }] }; }
  static async download(items) { for await (const item of items) appendFileSync(${JSON.stringify(path.join(dir, "out.jsonl"))}, JSON.stringify(item) + "\\n"); }
}
const result = await Runner.run({ dir: ${JSON.stringify(dir)}, detach: true });
console.log(result.detached ? "detached " + result.pid : "finished " + result.report.succeeded);
`,
    );
    const parent = await runNode([script], { cwd: dir });
    expect(parent.stderr).toBe("");
    expect(parent.stdout).toMatch(/^detached \d+\n$/);
    const stateDir = path.join(dir, ".batchpipe/detached-runner");
    await waitFor(() => readDaemon(stateDir)?.state === "finished", 40_000, "the runner daemon to finish");
    expect(readDaemon(stateDir)?.exitCode).toBe(0);
    // the child ran the same script: run() ran in the foreground there and resolved with the result
    expect(fs.readFileSync(path.join(stateDir, "daemon.log"), "utf8")).toContain("finished 30");
    const ids = readJsonl<{ id: string }>(path.join(dir, "out.jsonl")).map((r) => r.id);
    expect(checkExactlyOnce(ids, expected)).toEqual({ missing: [], duplicated: [], extra: [] });
  });
});
