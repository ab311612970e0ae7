import fs from "node:fs";
import path from "node:path";
import { readDaemon } from "@batchpipe/core";
import { describe, expect, it } from "vitest";
import { batchpipe, checkExactlyOnce, readJsonl, tempDir, waitFor } from "./support/harness.js";

/** `<dir>/pipeline.yaml` watching ./inbox/ through the in-process emulator, and the empty inbox */
function writeWatchPipeline(dir: string, name: string): void {
  fs.mkdirSync(path.join(dir, "inbox"));
  fs.writeFileSync(
    path.join(dir, "pipeline.yaml"),
    [
      "version: 1",
      `name: ${name}`,
      "provider: { use: emulator, emulator: { timeScale: 3600 } }",
      "source: { use: jsonl, path: ./inbox/ }",
      "transform:",
      '  id: "{{ id }}"',
      '  body: { model: gpt-4o-mini, messages: [{ role: user, content: "{{ text }}" }] }',
      "batch: { poll_interval: 50ms }",
      "sinks: [{ use: jsonl, path: ./out/results.jsonl }]",
      "",
    ].join("\n"),
  );
}

describe("batchpipe watch --detach", () => {
  it("watches in the background, processes dropped files, and stops cleanly", async () => {
    const dir = tempDir("bp-daemon-watch-");
    writeWatchPipeline(dir, "watch-daemon");
    const stateDir = path.join(dir, ".batchpipe/watch-daemon");
    const start = await batchpipe(["watch", "pipeline.yaml", "--detach", "--settle", "300ms"], {
      cwd: dir,
    });
    expect(start.stderr).toBe("");
    expect(start.stdout).toMatch(/watching in the background: pid \d+/);
    const pid = readDaemon(stateDir)!.pid;
    // a second background process for the same pipeline is refused, a watcher as a run
    const second = await batchpipe(["run", "pipeline.yaml", "--detach"], { cwd: dir });
    expect(second.code).toBe(1);
    expect(second.stderr).toContain(`a daemon (pid ${pid}) is already running`);

    const ids: string[] = [];
    for (let k = 1; k <= 3; k++) {
      const lines = [1, 2, 3].map((i) => ({ id: `w${k}-${i}`, text: `file ${k} line ${i}` }));
      ids.push(...lines.map((l) => l.id));
      fs.writeFileSync(
        path.join(dir, "inbox", `f${k}.jsonl`),
        lines.map((l) => `${JSON.stringify(l)}\n`).join(""),
      );
    }
    const results = path.join(dir, "out/results.jsonl");
    await waitFor(() => readJsonl(results).length >= 9, 40_000, "9 results");
    const status = await batchpipe(["status", "pipeline.yaml"], { cwd: dir });
    expect(status.stdout).toContain(`daemon pid ${pid} running`);
    // a foreground run beside the idle watcher is refused as after it (its sinks would lose the watcher's rows)
    const run = await batchpipe(["run", "pipeline.yaml"], { cwd: dir });
    expect(run.code, run.stderr).toBe(2);
    expect(run.stderr).toContain(`processed by \`batchpipe watch\` (running in the background, pid ${pid})`);
    expect(run.stderr).toContain("the running watcher takes the files that arrive");
    expect(run.stderr).toContain("stop the watcher (batchpipe stop pipeline.yaml), then run with --force");
    // --force does not run beside a running watcher
    const forced = await batchpipe(["run", "pipeline.yaml", "--force"], { cwd: dir });
    expect(forced.code, forced.stderr).toBe(2);

    const stop = await batchpipe(["stop", "pipeline.yaml"], { cwd: dir });
    expect(stop.code).toBe(0);
    expect(stop.stdout).toContain("stopped the background watcher");
    expect(stop.stdout).toContain("resume with: batchpipe watch pipeline.yaml");
    expect(readDaemon(stateDir)).toMatchObject({ state: "finished", exitCode: 143 });
    const log = fs.readFileSync(path.join(stateDir, "daemon.log"), "utf8");
    expect(log).toContain("f2.jsonl: 3 succeeded, 0 failed");
    // no Ctrl-C reaches a background process: its log says what does
    expect(log).toContain(`SIGTERM received: saving state (another SIGTERM (kill ${pid}) quits at once)`);
    expect(log).not.toContain("Ctrl-C");
    expect(
      checkExactlyOnce(
        readJsonl<{ id: string }>(results).map((r) => r.id),
        ids,
      ),
    ).toEqual({ missing: [], duplicated: [], extra: [] });
    // nothing left to do
    const once = await batchpipe(["watch", "pipeline.yaml", "--once", "--settle", "100ms"], { cwd: dir });
    expect(once.stdout).toContain("0 file(s) in 0 run(s)");
    const after = await batchpipe(["status", "pipeline.yaml"], { cwd: dir });
    expect(after.stdout).toContain("watch: 3 file(s) processed, 0 pending, 0 failed");
  });

  it("--detach passes --no-cache on: requests an earlier file paid are sent again", async () => {
    const dir = tempDir("bp-daemon-no-cache-");
    writeWatchPipeline(dir, "watch-daemon-no-cache");
    const write = (name: string, prefix: string) =>
      fs.writeFileSync(
        path.join(dir, "inbox", name),
        [1, 2, 3].map((i) => `${JSON.stringify({ id: `${prefix}${i}`, text: `line ${i}` })}\n`).join(""),
      );
    const watch = ["watch", "pipeline.yaml", "--once", "--settle", "200ms"];
    write("a.jsonl", "a");
    expect((await batchpipe(watch, { cwd: dir })).stdout).toContain("3 succeeded");
    // the same requests under other ids, in the background with --no-cache
    write("b.jsonl", "b");
    const start = await batchpipe([...watch, "--detach", "--no-cache"], { cwd: dir });
    expect(start.code, start.stderr).toBe(0);
    const stateDir = path.join(dir, ".batchpipe/watch-daemon-no-cache");
    await waitFor(() => readDaemon(stateDir)?.state === "finished", 40_000, "the watcher to finish");
    expect(readDaemon(stateDir)).toMatchObject({ exitCode: 0 });
    const log = fs.readFileSync(path.join(stateDir, "daemon.log"), "utf8");
    expect(log).toMatch(/completed: 3 succeeded, 0 failed, 1 batch\(es\)/);
    expect(
      readJsonl<{ id: string }>(path.join(dir, "out/results.jsonl"))
        .map((r) => r.id)
        .sort(),
    ).toEqual(["a1", "a2", "a3", "b1", "b2", "b3"]);
  });

  it("a duration flag that is not a duration is a usage error (exit 2), before anything starts", async () => {
    const dir = tempDir("bp-daemon-durations-");
    writeWatchPipeline(dir, "watch-durations");
    for (const [args, flag, value] of [
      [["watch", "pipeline.yaml", "--once", "--settle", "abc"], "settle", "abc"],
      [["watch", "pipeline.yaml", "--detach", "--coalesce", "abc"], "coalesce", "abc"],
      [["watch", "pipeline.yaml", "--once", "--settle", "500"], "settle", "500"],
      [["stop", "pipeline.yaml", "--timeout", "abc"], "timeout", "abc"],
    ] as const) {
      const result = await batchpipe([...args], { cwd: dir });
      expect(result.code, `${args.join(" ")}: ${result.stderr}`).toBe(2);
      expect(result.stderr).toContain(`--${flag} expects a duration, got "${value}"`);
      expect(result.stderr).toContain("ms, s, m, h or d");
    }
    // nothing was started
    expect(readDaemon(path.join(dir, ".batchpipe/watch-durations"))).toBeNull();
  });
});
