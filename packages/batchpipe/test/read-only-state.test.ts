// `status`, `runs`, `plan` and `cache` only read the state folder: they work on one this user cannot
// write (chmod -R a-w, a read-only mount). Before, each failed: state.db and cache.db were opened
// for writing, and SQLite could not create the -shm file a WAL database is read through. The tests
// run as root, whom permissions do not stop: the commands then run as `nobody`, in a child process
// through the real CLI, over a state a real run left (the emulator over HTTP).
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import type { Emulator } from "@batchpipe/openai-emulator";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  batchpipe,
  records,
  report,
  runNode,
  startBatchpipe,
  startEmulator,
  tempDir,
  writePipeline,
} from "./support/harness.js";

let emu: Emulator;
beforeAll(async () => {
  emu = await startEmulator();
});
afterAll(async () => {
  await emu?.close();
});

/** as root, the commands run as nobody; as anyone else, as themselves */
const USER = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};

/** the pipeline's folder, handed to USER, with its state folder made read-only; the children's options */
function readOnlyState(dir: string) {
  const stateDir = path.join(dir, ".batchpipe", "read-only");
  // the test run's temp folder is root's: plan's own temp folder goes in one the user can write
  fs.mkdirSync(path.join(dir, "tmp"));
  if (USER.uid !== undefined) execFileSync("chown", ["-R", `${USER.uid}:${USER.gid}`, dir]);
  fs.chmodSync(dir, 0o755);
  execFileSync("chmod", ["-R", "a-w", stateDir]);
  return { stateDir, as: { cwd: dir, env: { TMPDIR: path.join(dir, "tmp") }, ...USER } };
}

async function pipelineRun(n: number, kill?: string) {
  const dir = tempDir();
  let text = "";
  for (let i = 1; i <= n; i++) text += `${JSON.stringify({ id: `r${i}`, text: `hello ${i}` })}\n`;
  fs.writeFileSync(path.join(dir, "data.jsonl"), text);
  const spec = writePipeline(dir, { baseUrl: emu.url, name: "read-only", batch: { max_requests: 10 } });
  const run = await batchpipe(["run", spec, "--json"], {
    cwd: dir,
    onEvent: (event, child) => {
      if (event.type === kill) child.kill("SIGKILL");
    },
  });
  return { dir, run };
}

describe("commands that only read, on a read-only state folder", () => {
  it("status, runs, plan and cache answer from a state a run closed cleanly", async () => {
    const { dir, run } = await pipelineRun(30);
    expect(run.code, run.stderr).toBe(0);
    expect(report(run)).toMatchObject({ succeeded: 30 });
    const { stateDir, as } = readOnlyState(dir);
    try {
      // the folder really cannot be written by the user the commands run as
      const probe = await runNode(["-e", `require("fs").accessSync(${JSON.stringify(stateDir)}, 2)`], as);
      expect(probe.stderr).toMatch(/EACCES/);
      expect(fs.readdirSync(stateDir)).not.toContain("state.db-shm");

      const status = await batchpipe(["status", "pipeline.yaml"], as);
      expect(status.stderr).toBe("");
      expect(status.code).toBe(0);
      expect(status.stdout).toMatch(/^ {2}records 30\/30 done · ok 30 · failed 0/m);

      const runs = await batchpipe(["runs", "pipeline.yaml", "--json"], as);
      expect(runs.code, runs.stderr).toBe(0);
      expect(JSON.parse(runs.stdout).runs).toMatchObject([{ status: "done", read: 30 }]);

      const plan = await batchpipe(["plan", "pipeline.yaml", "--json"], as);
      expect(plan.code, plan.stderr).toBe(0);
      expect(JSON.parse(plan.stdout).totals).toMatchObject({ read: 30, requests: 0, cached: 30 });

      const cache = await batchpipe(["cache", "pipeline.yaml", "--json"], as);
      expect(cache.code, cache.stderr).toBe(0);
      expect(JSON.parse(cache.stdout).cache).toMatchObject({ entries: 30 });
    } finally {
      execFileSync("chmod", ["-R", "u+w", stateDir]);
    }
  });

  it("status and runs read a killed run's state, its -wal and -shm still there", async () => {
    const { dir, run } = await pipelineRun(30, "batch_status");
    expect(run.signal).toBe("SIGKILL");
    const { stateDir, as } = readOnlyState(dir);
    try {
      expect(fs.readdirSync(stateDir)).toContain("state.db-wal");
      const status = await batchpipe(["status", "pipeline.yaml", "--json"], as);
      expect(status.code, status.stderr).toBe(0);
      expect(JSON.parse(status.stdout).run).toMatchObject({ status: "stopped" });
      const runs = await batchpipe(["runs", "pipeline.yaml", "--json"], as);
      expect(runs.code, runs.stderr).toBe(0);
      expect(JSON.parse(runs.stdout).runs).toMatchObject([{ status: "stopped" }]);
    } finally {
      execFileSync("chmod", ["-R", "u+w", stateDir]);
    }
  });

  it("status of a pipeline `watch` processed reads its watch registry too", async () => {
    const dir = tempDir();
    fs.mkdirSync(path.join(dir, "inbox"));
    fs.writeFileSync(path.join(dir, "inbox", "a.jsonl"), records(5));
    writePipeline(dir, { baseUrl: emu.url, name: "read-only", source: "  { use: jsonl, path: ./inbox/ }" });
    const watch = await batchpipe(["watch", "pipeline.yaml", "--once", "--settle", "200ms"], { cwd: dir });
    expect(watch.code, watch.stderr).toBe(0);
    const { stateDir, as } = readOnlyState(dir);
    try {
      expect(fs.readdirSync(path.join(stateDir, "watch"))).not.toContain("watch.db-shm");
      const status = await batchpipe(["status", "pipeline.yaml"], as);
      expect(status.stderr).toBe("");
      expect(status.stdout).toContain("  watch: 1 file(s) processed, 0 pending, 0 failed\n");
    } finally {
      execFileSync("chmod", ["-R", "u+w", stateDir]);
    }
  });

  // the view opened state.db (and watch.db) read-only too, but a WAL file in a folder it cannot
  // write could not be opened: every pipeline said "attempt to write a readonly database"
  it("batchpipe view shows the runs of a read-only state", async () => {
    const { dir, run } = await pipelineRun(30);
    expect(run.code, run.stderr).toBe(0);
    const { stateDir, as } = readOnlyState(dir);
    const view = startBatchpipe(["view", "pipeline.yaml", "--port", "0"], as);
    try {
      const url = await new Promise<string>((resolve, reject) => {
        const poll = setInterval(() => {
          const found = /listening on (http:\/\/\S+\/)/.exec(view.stdout());
          if (found) {
            clearInterval(poll);
            resolve(found[1]!);
          }
        }, 50);
        void view.done.then((end) => {
          clearInterval(poll);
          reject(new Error(`view ended: ${end.stderr}`));
        });
      });
      const { pipelines } = (await (await fetch(`${url}api/runs`)).json()) as {
        pipelines: { key: string; error?: string; runs?: { id: string }[] }[];
      };
      expect(pipelines).toHaveLength(1);
      expect(pipelines[0]!.error).toBeUndefined();
      expect(pipelines[0]!.runs).toHaveLength(1);
    } finally {
      view.child.kill("SIGTERM");
      await view.done;
      execFileSync("chmod", ["-R", "u+w", stateDir]);
    }
  });
});
