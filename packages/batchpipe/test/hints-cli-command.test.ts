// Installed with `npm i -D batchpipe`, batchpipe is not on the PATH: the user runs `npx batchpipe`
// (or `pnpm exec batchpipe`). `init` printed its next steps that way, but the commands printed by
// run --detach, stop, status, cancel, cache and watch began with a bare `batchpipe`, which the shell does
// not find. They now use the same detection as init (npm_command=exec and the package manager's
// user agent); run on the PATH they still say `batchpipe`.
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { batchpipe, startBatchpipe, tempDir, waitFor, writeEmulatorPipeline } from "./support/harness.js";
import { slowEmulatorPipeline } from "./support/slow-emulator.js";

const NPX = { npm_command: "exec", npm_config_user_agent: "npm/11.19.1 node/v20.20.2 linux x64" };
const PNPM = { npm_command: "exec", npm_config_user_agent: "pnpm/10.34.9 npm/? node/v20.20.2" };

describe("the commands a hint prints start the way the user started batchpipe", () => {
  it("npx: run --detach, stop, status, cancel", async () => {
    const dir = slowEmulatorPipeline("cli-command", 3);
    const o = { cwd: dir, env: NPX };
    const detach = await batchpipe(["run", "pipeline.yaml", "--detach"], o);
    expect(detach.code, detach.stderr).toBe(0);
    expect(detach.stdout).toContain(
      "  follow it: npx batchpipe logs pipeline.yaml -f · stop it: npx batchpipe stop pipeline.yaml\n",
    );
    await waitFor(
      async () => (await batchpipe(["status", "pipeline.yaml"], o)).stdout.includes("  batch batch_"),
      30_000,
      "the batch submitted",
    );
    const stop = await batchpipe(["stop", "pipeline.yaml"], o);
    expect(stop.code, stop.stderr).toBe(0);
    expect(stop.stdout).toContain("  resume with: npx batchpipe run pipeline.yaml [--detach]\n");

    const status = await batchpipe(["status", "pipeline.yaml"], o);
    expect(status.stdout).toContain("  resume with: npx batchpipe run pipeline.yaml\n");

    const cancel = await batchpipe(["cancel", "pipeline.yaml"], o);
    expect(cancel.code, cancel.stderr).toBe(0);
    expect(cancel.stdout).toContain("if none is running, `npx batchpipe run pipeline.yaml` does it.\n");
    const settling = await batchpipe(["status", "pipeline.yaml"], o);
    expect(settling.stdout).toContain("  settle it with: npx batchpipe run pipeline.yaml (it collects");

    const stopNone = await batchpipe(["stop", "pipeline.yaml"], o);
    expect(stopNone.code).toBe(2);
    expect(stopNone.stderr).toContain(
      "hint: Start one with `npx batchpipe run pipeline.yaml --detach`; `npx batchpipe status pipeline.yaml` shows the last one.",
    );
  }, 90_000);

  it("npx: watch --detach, its stop, and a watcher's interrupted event", async () => {
    const dir = tempDir("bp-cli-command-watch-");
    fs.mkdirSync(path.join(dir, "inbox"));
    writeEmulatorPipeline(dir, { name: "cli-command-watch" });
    const o = { cwd: dir, env: NPX };
    const detach = await batchpipe(["watch", "pipeline.yaml", "--detach"], o);
    expect(detach.code, detach.stderr).toBe(0);
    expect(detach.stdout).toContain(
      "  follow it: npx batchpipe logs pipeline.yaml -f · stop it: npx batchpipe stop pipeline.yaml\n",
    );
    expect((await batchpipe(["stop", "pipeline.yaml"], o)).code).toBe(0);
    const watcher = startBatchpipe(["watch", "pipeline.yaml", "--json"], {
      ...o,
      onEvent: (event, child) => {
        if (event.type === "watching") child.kill("SIGTERM");
      },
    });
    const done = await watcher.done;
    expect(done.events.at(-1)).toMatchObject({
      type: "interrupted",
      resume: "npx batchpipe watch pipeline.yaml",
    });
  }, 60_000);

  it("npx: init, then cache after a run", async () => {
    const dir = tempDir("bp-cli-command-");
    const o = { cwd: dir, env: NPX };
    const init = await batchpipe(["init", "p"], o);
    expect(init.stdout).toContain("  npx batchpipe run p/pipeline.yaml ");
    const run = await batchpipe(["run", "p/pipeline.yaml"], o);
    expect(run.code, run.stderr).toBe(0);
    const cache = await batchpipe(["cache", "p/pipeline.yaml"], o);
    expect(cache.code, cache.stderr).toBe(0);
    expect(cache.stdout).toContain("  (npx batchpipe cache p/pipeline.yaml --clear empties it;");
  }, 60_000);

  it("pnpm exec, and a bare `batchpipe` when it is on the PATH", async () => {
    const dir = slowEmulatorPipeline("cli-command", 3);
    const pnpm = await batchpipe(["stop", "pipeline.yaml", "--state-dir", "st"], { cwd: dir, env: PNPM });
    expect(pnpm.stderr).toContain(
      "hint: Start one with `pnpm exec batchpipe run pipeline.yaml --state-dir st --detach`;",
    );
    const noCommand = await batchpipe(["--bogus"], { cwd: dir, env: PNPM });
    expect(noCommand.stderr).toContain(
      "  hint: a command comes first; `pnpm exec batchpipe <command> --help` lists its options\n",
    );
    const bare = await batchpipe(["stop", "pipeline.yaml"], {
      cwd: dir,
      env: { npm_command: undefined, npm_config_user_agent: undefined },
    });
    expect(bare.stderr).toContain("hint: Start one with `batchpipe run pipeline.yaml --detach`;");
  });
});
