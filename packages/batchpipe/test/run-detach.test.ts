import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { isAlive, readDaemon } from "@batchpipe/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  batchpipe,
  CLI_BIN,
  checkExactlyOnce,
  childEnv,
  type EmulatorProcess,
  readJsonl,
  startEmulatorProcess,
  tempDir,
  waitFor,
} from "./support/harness.js";

const records = (n: number) =>
  Array.from(
    { length: n },
    (_, i) => `${JSON.stringify({ id: `d${i + 1}`, text: `record ${i + 1}` })}\n`,
  ).join("");

function writeDetachSpec(dir: string, name: string, provider: string[]): string {
  fs.writeFileSync(path.join(dir, "data.jsonl"), records(30));
  fs.writeFileSync(
    path.join(dir, "pipeline.yaml"),
    [
      "version: 1",
      `name: ${name}`,
      "provider:",
      ...provider,
      "source: { use: jsonl, path: ./data.jsonl }",
      "transform:",
      '  id: "{{ id }}"',
      '  body: { model: gpt-4o-mini, max_tokens: 5, messages: [{ role: user, content: "{{ text }}" }] }',
      "batch: { poll_interval: 100ms, max_requests: 10 }",
      "sinks: [{ use: jsonl, path: ./out/results.jsonl }]",
      "",
    ].join("\n"),
  );
  return path.join(dir, ".batchpipe", name);
}

/** the session id of a process (field 6 of /proc/<pid>/stat) */
function sessionOf(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
  return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[3]);
}

const expected = Array.from({ length: 30 }, (_, i) => `d${i + 1}`);

describe("batchpipe run --detach", () => {
  it("outlives the shell that started it, refuses a second daemon, and status reports it done", async () => {
    const dir = tempDir("bp-daemon-");
    // validation takes 6 s per batch: the run outlasts the checks made while it runs
    const stateDir = writeDetachSpec(dir, "detached", [
      "  use: emulator",
      "  emulator: { timeScale: 10, latencies: { validation: 60 } }",
    ]);
    const started = await new Promise<{ code: number | null; stdout: string }>((resolve) => {
      const sh = spawn("sh", ["-c", `"${process.execPath}" "${CLI_BIN}" run pipeline.yaml --detach; exit`], {
        cwd: dir,
        env: childEnv(),
        stdio: ["ignore", "pipe", "pipe"],
      });
      let stdout = "";
      sh.stdout!.on("data", (d) => {
        stdout += d;
      });
      sh.once("close", (code) => resolve({ code, stdout }));
    });
    expect(started.code).toBe(0);
    expect(started.stdout).toMatch(/started in the background: pid \d+/);
    const daemon = readDaemon(stateDir)!;
    expect(daemon.state).toBe("running");
    // the shell is gone; the daemon lives on in its own session
    expect(isAlive(daemon.pid)).toBe(true);
    expect(sessionOf(daemon.pid)).toBe(daemon.pid);
    expect(fs.readFileSync(path.join(stateDir, "daemon.pid"), "utf8").trim()).toBe(String(daemon.pid));

    const second = await batchpipe(["run", "pipeline.yaml", "--detach"], { cwd: dir });
    expect(second.code).toBe(1);
    expect(second.stderr).toContain(`a daemon (pid ${daemon.pid}) is already running pipeline "detached"`);
    expect(second.stderr).toContain("batchpipe stop");

    const running = await batchpipe(["status", "pipeline.yaml"], { cwd: dir });
    expect(running.stdout).toContain(`daemon pid ${daemon.pid} running`);

    // logs -f follows until the daemon exits
    const follow = await batchpipe(["logs", "pipeline.yaml", "-f"], { cwd: dir, timeoutMs: 30_000 });
    expect(follow.code).toBe(0);
    expect(follow.stdout).toContain("batchpipe daemon started");
    expect(follow.stdout).toMatch(/succeeded\s+30/);

    await waitFor(() => readDaemon(stateDir)?.state !== "running", 30_000, "the daemon to finish");
    const status = await batchpipe(["status", "pipeline.yaml", "--json"], { cwd: dir });
    const json = JSON.parse(status.stdout) as {
      run: { status: string };
      daemon: { state: string; exitCode: number };
    };
    expect(json.run.status).toBe("done");
    expect(json.daemon).toMatchObject({ state: "finished", exitCode: 0 });
    expect((await batchpipe(["status", "pipeline.yaml"], { cwd: dir })).stdout).toContain(
      `daemon pid ${daemon.pid} finished (exit 0)`,
    );
    const ids = readJsonl<{ id: string }>(path.join(dir, "out/results.jsonl")).map((r) => r.id);
    expect(checkExactlyOnce(ids, expected)).toEqual({ missing: [], duplicated: [], extra: [] });
    expect(fs.existsSync(path.join(stateDir, "daemon.pid"))).toBe(false);
  });
});

describe("batchpipe stop (emulator in its own process)", () => {
  let emulator: EmulatorProcess;
  beforeAll(async () => {
    // slow enough (10 s a batch) that `stop` lands before the run ends, even on a loaded machine
    emulator = await startEmulatorProcess({ timeScale: 1, latencies: { validation: 1, linesPerSecond: 1 } });
  });
  afterAll(async () => {
    await emulator?.close();
  });

  it("stop ends the daemon cleanly; a later run resumes and delivers every id once", async () => {
    const dir = tempDir("bp-daemon-stop-");
    const stateDir = writeDetachSpec(dir, "stoppable", [
      "  use: openai",
      `  base_url: ${emulator.url}`,
      // biome-ignore lint/suspicious/noTemplateCurlyInString: the spec's ${VAR} syntax
      "  api_key: ${OPENAI_API_KEY}",
    ]);
    const before = (await emulator.state()).batches.length;
    const start = await batchpipe(["run", "pipeline.yaml", "--detach"], { cwd: dir });
    expect(start.code).toBe(0);
    const log = path.join(stateDir, "daemon.log");
    await waitFor(
      async () => (await emulator.state()).batches.length > before,
      20_000,
      "a batch at the provider",
    );
    const stop = await batchpipe(["stop", "pipeline.yaml"], { cwd: dir });
    expect(stop.stderr).toBe("");
    expect(stop.code).toBe(0);
    expect(stop.stdout).toContain("stopped the background run");
    const daemon = readDaemon(stateDir)!;
    expect(daemon).toMatchObject({ state: "finished", exitCode: 143 });
    expect(fs.readFileSync(log, "utf8")).toContain("SIGTERM received: saving state");
    const again = await batchpipe(["stop", "pipeline.yaml"], { cwd: dir });
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('no background run of "stoppable" is running');

    const batchesBefore = (await emulator.state()).batches.length;
    const resumed = await batchpipe(["run", "pipeline.yaml", "--json"], { cwd: dir });
    expect(resumed.code).toBe(0);
    expect(resumed.stdout).toContain('"resumed":true');
    const ids = readJsonl<{ id: string }>(path.join(dir, "out/results.jsonl")).map((r) => r.id);
    expect(checkExactlyOnce(ids, expected)).toEqual({ missing: [], duplicated: [], extra: [] });
    // batches created before the stop were adopted, not paid for again
    const submitted = (await emulator.state()).batches.length - batchesBefore;
    expect(submitted).toBeLessThan(3);
  });
});
