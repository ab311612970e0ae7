// Disk full and unwritable folders: a clear error (no stack, the plugin or folder named, a hint),
// the state intact, and the next run resumes once the problem is fixed.
//
// Tests may run as root, where chmod does not stop writes. So "unwritable" is a path under a
// regular file (ENOTDIR, for any user), and "disk full" is a 512 KB tmpfs filled up (needs
// mount permission, as root in a container here; skipped, with a note, where mount is refused).
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import type { Emulator } from "@batchpipe/openai-emulator";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  batchesOf,
  batchpipe,
  expectEachOnce,
  records,
  report,
  startEmulator,
  tempDir,
  writePipeline,
} from "./support/harness.js";

const STACK_LINE = /^\s+at .+[:(]\d+:\d+\)?$/m;
const tiny = tempDir("bp-hard-tmpfs-");
const canMount = tryMount(tiny);
const tinyState = tempDir("bp-hard-tmpfs-state-");
const canMountState = canMount && tryMount(tinyState);

let emu: Emulator;
beforeAll(async () => {
  emu = await startEmulator();
});
afterAll(async () => {
  await emu?.close();
  if (canMount) execFileSync("umount", [tiny]);
  if (canMountState) execFileSync("umount", [tinyState]);
});

const ours = (name: string) => batchesOf(emu, name);

describe("disk problems", () => {
  it("an output folder that cannot be made: a located spec error before reading, a clean run once fixed", async () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, "data.jsonl"), records(12));
    fs.writeFileSync(path.join(dir, "out"), "a file where the output folder should be");
    const spec = writePipeline(dir, {
      baseUrl: emu.url,
      name: "ro-out",
      sinks: ["- { use: jsonl, path: ./out/results.jsonl }"],
    });
    const first = await batchpipe(["run", spec], { cwd: dir });
    // checked before a record is read (issue 13 item 9): nothing read, nothing paid
    expect(first.code).toBe(2);
    expect(first.stderr).toMatch(
      /sinks\[0\]\.path: cannot create .*out\/results\.jsonl: .*out is a file, not a folder/,
    );
    expect(first.stderr).toContain("hint:");
    expect(first.stderr).not.toMatch(STACK_LINE);
    expect(fs.existsSync(path.join(dir, ".batchpipe/ro-out/state.db"))).toBe(false);

    fs.rmSync(path.join(dir, "out"));
    const second = await batchpipe(["run", spec, "--json"], { cwd: dir });
    expect(second.code).toBe(0);
    expect(second.events[0]).toMatchObject({ type: "run_started", resumed: false });
    expectEachOnce(path.join(dir, "out/results.jsonl"), 12);
  });

  it("a state folder that cannot be created: STATE_FAILED with a hint, not a crash", async () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, "data.jsonl"), records(2));
    fs.writeFileSync(path.join(dir, "blocked"), "");
    const spec = writePipeline(dir, { baseUrl: emu.url, name: "ro-state" });
    const run = await batchpipe(["run", spec, "--state-dir", "blocked/state"], { cwd: dir });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/cannot create the state folder .*blocked\/state: ENOTDIR/);
    expect(run.stderr).toContain("STATE_FAILED");
    expect(run.stderr).toContain("--state-dir");
    expect(run.stderr).not.toMatch(/unexpected error/);
  });

  it.runIf(canMount)(
    "disk full while delivering: clear ENOSPC error, state kept, resume delivers the rest once, nothing paid twice",
    async () => {
      const dir = tempDir();
      fs.writeFileSync(path.join(dir, "data.jsonl"), records(30));
      const out = path.join(tiny, "results.jsonl");
      const spec = writePipeline(dir, {
        baseUrl: emu.url,
        name: "full",
        batch: { max_requests: 10 },
        sinks: [`- { use: jsonl, path: ${out} }`],
      });
      const filler = path.join(tiny, "filler");
      fillUp(filler);

      const first = await batchpipe(["run", spec, "--json"], { cwd: dir });
      expect(first.code).toBe(1);
      expect(first.stderr).toMatch(/sinks\[0\] \(jsonl\) failed in (write|commit): ENOSPC/);
      // the sink failed (its code), on the machine's problem (the errno)
      expect(first.events.at(-1)).toMatchObject({ type: "error", code: "PLUGIN_FAILED", errno: "ENOSPC" });
      expect(first.stderr).toContain("hint:");
      expect(first.stderr).not.toMatch(STACK_LINE);
      expect(ours("full").length).toBeGreaterThanOrEqual(1);

      fs.rmSync(filler);
      const second = await batchpipe(["run", spec, "--json"], { cwd: dir });
      expect(second.stderr).toBe("");
      expect(second.code).toBe(0);
      expect(report(second)).toMatchObject({ read: 30, succeeded: 30, unaccounted: 0 });
      expectEachOnce(out, 30);
      // three shards, three batches: those of the failed run were collected, not submitted again
      expect(ours("full")).toHaveLength(3);
    },
  );
});

it.runIf(canMountState)(
  "the state folder's disk full: a clear 'disk is full' error, and the run resumes once there is space",
  async () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, "data.jsonl"), records(5000));
    const spec = writePipeline(dir, { baseUrl: emu.url, name: "full-state" });
    // the run's end report, written outside the full disk
    fs.appendFileSync(spec, "notify:\n  - command: cat > notice.json\n");
    const first = await batchpipe(["run", spec, "--state-dir", tinyState, "--json"], { cwd: dir });
    expect(first.code).toBe(1);
    expect(first.stderr).toMatch(/the disk is full \((ENOSPC|SQLITE_FULL)\)/);
    expect(first.stderr).toContain("run the same command again");
    expect(first.stderr).not.toMatch(/unexpected error/);
    expect(first.stderr).not.toMatch(STACK_LINE);
    // a script tells the machine's problem from a bug: its own code, the errno, the same hint
    expect(first.events.at(-1)).toMatchObject({
      type: "error",
      code: "SYSTEM",
      errno: expect.stringMatching(/^(ENOSPC|SQLITE_FULL)$/),
      message: expect.stringMatching(/^the disk is full \((ENOSPC|SQLITE_FULL)\): /),
      hint: expect.stringContaining("run the same command again"),
      exitCode: 1,
    });
    // and `status` says the same of the stopped run
    const status = await batchpipe(["status", spec, "--state-dir", tinyState, "--json"], { cwd: dir });
    expect(JSON.parse(status.stdout).run.stopped).toMatchObject({
      code: "SYSTEM",
      errno: first.events.at(-1)!.errno,
      message: expect.stringMatching(/^the disk is full \((ENOSPC|SQLITE_FULL)\): /),
      hint: expect.stringContaining("run the same command again"),
    });
    // and so does `notify`
    const notice = JSON.parse(fs.readFileSync(path.join(dir, "notice.json"), "utf8"));
    expect(notice).toMatchObject({
      status: "stopped",
      error: { code: "SYSTEM", errno: first.events.at(-1)!.errno },
    });
    expect(batchesOf(emu, "full-state")).toHaveLength(0);

    execFileSync("mount", ["-o", "remount,size=64m", tinyState]);
    const second = await batchpipe(["run", spec, "--state-dir", tinyState, "--json"], { cwd: dir });
    expect(second.stderr).toBe("");
    expect(second.code).toBe(0);
    expectEachOnce(path.join(dir, "out/results.jsonl"), 5000);
  },
);

it.runIf(canMountState)(
  "the state folder's disk fills up while results are delivered: a clear error with the resume hint, then every row once and nothing paid twice",
  async () => {
    execFileSync("mount", ["-o", "remount,size=64m", tinyState]);
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, "data.jsonl"), records(8000));
    const spec = writePipeline(dir, {
      baseUrl: emu.url,
      name: "full-delivery",
      batch: { max_requests: 2000 },
    });
    const stateDir = path.join(tinyState, "full-delivery");
    const filler = path.join(tinyState, "filler");
    // full once the first batch is polled: the result cache's writer (or the state) meets it while
    // the first shard's results are stored
    let filled = false;
    const first = await batchpipe(["run", spec, "--state-dir", stateDir, "--json"], {
      cwd: dir,
      onEvent: (event) => {
        if (event.type !== "batch_status" || filled) return;
        filled = true;
        fillUp(filler);
      },
    });
    expect(filled).toBe(true);
    expect(first.code, first.stderr).toBe(1);
    expect(first.stderr).toMatch(/the disk is full \((ENOSPC|SQLITE_FULL)\)/);
    expect(first.stderr).toContain("run the same command again: the run resumes where it stopped");
    expect(first.stderr).not.toMatch(STACK_LINE);
    // whichever met the full disk (the cache's writer: STATE_FAILED; the state: SYSTEM), a script
    // sees the machine's errno
    expect(first.events.at(-1)).toMatchObject({
      type: "error",
      code: expect.stringMatching(/^(STATE_FAILED|SYSTEM)$/),
      errno: expect.stringMatching(/^(ENOSPC|SQLITE_FULL)$/),
    });

    fs.rmSync(filler);
    const second = await batchpipe(["run", spec, "--state-dir", stateDir, "--json"], { cwd: dir });
    expect(second.code, second.stderr).toBe(0);
    expectEachOnce(path.join(dir, "out/results.jsonl"), 8000);
    expect(batchesOf(emu, "full-delivery")).toHaveLength(4);
  },
);

function tryMount(dir: string): boolean {
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=512k", "tmpfs", dir], { stdio: "ignore" });
    return true;
  } catch {
    console.log("disk-problems: cannot mount a tmpfs here (not root?); the disk-full test is skipped");
    return false;
  }
}

/** write until the file system says ENOSPC */
function fillUp(file: string) {
  const fd = fs.openSync(file, "w");
  const chunk = Buffer.alloc(4096, 1);
  try {
    for (;;) fs.writeSync(fd, chunk);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOSPC") throw error;
  } finally {
    fs.closeSync(fd);
  }
}
