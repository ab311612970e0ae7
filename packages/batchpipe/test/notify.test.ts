// `notify:` through the real CLI: a webhook gets exactly one report per run, however the run ends
// (all succeeded, some failed, stopped on an error), and a command gets the same JSON on stdin. A
// webhook that answers 503 is tried again; one that never answers 2xx is a warning, not a failed run.
import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import type { Emulator } from "@batchpipe/openai-emulator";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  batchpipe,
  FIXTURES,
  readJsonl,
  records,
  startEmulator,
  tempDir,
  writePipeline,
} from "./support/harness.js";

interface Notice {
  type: string;
  name: string;
  run: string;
  status: string;
  report: Record<string, unknown> | null;
  error: { code: string; message: string } | null;
}

let emu: Emulator;
let receiver: http.Server;
let url: string;
/** bodies received, per path */
const received = new Map<string, Notice[]>();
/** how many times each path answers 503 before 200 (`/never` always answers 500) */
const refusals = new Map<string, number>();

beforeAll(async () => {
  emu = await startEmulator({ lineRules: [{ customIds: ["r3", "r4"], error: "server_error" }] });
  receiver = http.createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8").on("data", (chunk: string) => {
      body += chunk;
    });
    req.on("end", () => {
      const left = refusals.get(req.url!) ?? 0;
      if (req.url === "/never" || left > 0) {
        refusals.set(req.url!, left - 1);
        res.writeHead(req.url === "/never" ? 500 : 503).end();
        return;
      }
      const list = received.get(req.url!) ?? [];
      list.push(JSON.parse(body) as Notice);
      received.set(req.url!, list);
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await emu?.close();
  await new Promise((resolve) => receiver?.close(resolve));
});

/** a pipeline over `n` records that notifies `/<hook>` and appends to notices.jsonl */
function notifyingPipeline(
  dir: string,
  hook: string,
  o: { n?: number; from?: number; extra?: string } = {},
): string {
  fs.writeFileSync(path.join(dir, "data.jsonl"), records(o.n ?? 6, o.from));
  const spec = writePipeline(dir, {
    baseUrl: emu.url,
    name: hook,
    batch: { max_attempts: 1, max_requests: 3 },
  });
  fs.appendFileSync(
    spec,
    [
      "notify:",
      `  - webhook: \${HOOK_BASE}/${hook}`,
      "  - command: cat >> notices.jsonl",
      ...(o.extra ? [o.extra] : []),
      "",
    ].join("\n"),
  );
  return spec;
}

describe("notify", () => {
  it("a run that ends with failed records: one report to the webhook (after two 503s), the same JSON to the command", async () => {
    const dir = tempDir();
    refusals.set("/partial", 2);
    const spec = notifyingPipeline(dir, "partial");
    const run = await batchpipe(["run", spec], { cwd: dir, env: { HOOK_BASE: url } });
    expect(run.code).toBe(3);

    const notices = received.get("/partial")!;
    expect(notices).toHaveLength(1);
    expect(notices[0]).toMatchObject({
      type: "run_ended",
      name: "partial",
      status: "partial",
      error: null,
      report: { read: 6, succeeded: 4, failed: 2, failedByCode: { server_error: 2 }, unaccounted: 0 },
    });
    const fromCommand = readJsonl<Notice>(path.join(dir, "notices.jsonl"));
    expect(fromCommand).toEqual(notices);
  });

  it("a run where everything succeeds: status completed; a second run, answered from the result cache, is completed too", async () => {
    const dir = tempDir();
    const spec = notifyingPipeline(dir, "completed", { n: 2, from: 10 });
    expect((await batchpipe(["run", spec], { cwd: dir, env: { HOOK_BASE: url } })).code).toBe(0);
    expect((await batchpipe(["run", spec], { cwd: dir, env: { HOOK_BASE: url } })).code).toBe(0);
    const notices = received.get("/completed")!;
    expect(notices.map((n) => n.status)).toEqual(["completed", "completed"]);
    expect(notices[1]!.report).toMatchObject({ read: 2, succeeded: 2, cached: 2, cost: 0 });
    expect(notices[0]!.report).toMatchObject({ read: 2, succeeded: 2, failed: 0 });
    expect(readJsonl<Notice>(path.join(dir, "notices.jsonl"))).toEqual(notices);
  });

  it("a run that stops on an error: one report with the error's code, exit 1", async () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, "broken"), "");
    const spec = notifyingPipeline(dir, "stopped");
    // the sink fails once 2 rows are written: the run stops with PLUGIN_FAILED
    const text = fs
      .readFileSync(spec, "utf8")
      .replace(
        "- { use: jsonl, path: ./out/results.jsonl, fields: all }",
        `- { use: ${path.join(FIXTURES, "plugins/flaky-sink.ts")}, path: ./out/results.jsonl, fail_marker: ./broken, fail_after: 2 }`,
      );
    fs.writeFileSync(spec, text);
    const run = await batchpipe(["run", spec], { cwd: dir, env: { HOOK_BASE: url } });
    expect(run.code).toBe(1);
    const notices = received.get("/stopped")!;
    expect(notices).toHaveLength(1);
    expect(notices[0]).toMatchObject({ status: "stopped", report: null, error: { code: "PLUGIN_FAILED" } });
    expect(notices[0]!.run).toMatch(/\S/);
    expect(readJsonl<Notice>(path.join(dir, "notices.jsonl"))).toEqual(notices);
  });

  it("a webhook that never takes the report and a failing command are warnings; the run's exit code stands", async () => {
    const dir = tempDir();
    const spec = notifyingPipeline(dir, "never", {
      n: 1,
      from: 20,
      extra: "  - command: echo nope >&2; exit 7",
    });
    const run = await batchpipe(["run", spec, "--json"], { cwd: dir, env: { HOOK_BASE: url } });
    expect(run.code).toBe(0);
    const warnings = run.events.filter((e) => e.type === "warning" && e.code === "NOTIFY_FAILED");
    expect(warnings.map((w) => w.message).sort()).toEqual([
      "the notify command `echo nope >&2; exit 7` exited with 7: nope",
      `the notify webhook at ${url} did not take the run's report (HTTP 500); check its URL and that it answers 2xx`,
    ]);
  }, 90_000);

  it("a command that leaves a process in the background (holding its stderr) does not hold up the run's end", async () => {
    const dir = tempDir();
    // the background sleep inherits the command's stderr: the run waited for it to close (600 s)
    const spec = notifyingPipeline(dir, "background", {
      n: 1,
      from: 30,
      extra: "  - command: sleep 600 & echo $! > sleep.pid",
    });
    try {
      const run = await batchpipe(["run", spec, "--json"], { cwd: dir, env: { HOOK_BASE: url } });
      expect(run.code).toBe(0);
      expect(run.events.filter((e) => e.type === "warning")).toEqual([]);
      expect(readJsonl<Notice>(path.join(dir, "notices.jsonl")).map((n) => n.status)).toEqual(["completed"]);
    } finally {
      const pid = Number(fs.readFileSync(path.join(dir, "sleep.pid"), "utf8"));
      if (pid > 0) process.kill(pid, "SIGKILL");
    }
  }, 60_000);

  it("validate refuses a notify entry that is neither a webhook nor a command", async () => {
    const dir = tempDir();
    const spec = writePipeline(dir, { baseUrl: emu.url });
    fs.appendFileSync(spec, "notify:\n  - { email: me@example.com }\n");
    const run = await batchpipe(["validate", spec], { cwd: dir });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("expected { webhook: <url> } or { command: <shell command> }");
  });
});
