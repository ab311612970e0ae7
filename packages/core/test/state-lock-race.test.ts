// The run lock and the daemon's pid file under processes racing for them (real child processes,
// started at the same instant, some SIGKILLed while they hold the lock).

import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import {
  batchpipe,
  officialPlugins,
  ROOT,
  runNode,
  signalOnce,
  tempDir,
  writeEmulatorPipeline,
} from "../../batchpipe/test/support/harness.js";
import { runSpec } from "../src/index.js";

const STATE = path.join(ROOT, "packages/core/dist/state/index.js");
const DAEMON = path.join(ROOT, "packages/core/dist/daemon/index.js");

/** a node script that waits for `startAt`, then runs `body` (its output is the test's evidence) */
function script(dir: string, name: string, body: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(
    file,
    `import fs from "node:fs";
import path from "node:path";
const [dir, startAt, until] = process.argv.slice(2).map((a, i) => (i === 0 ? a : Number(a)));
while (Date.now() < startAt) {}
${body}
`,
  );
  return file;
}

describe("the run lock", () => {
  it("admits one process at a time, also while holders die holding it (no takeover deletes a fresh lock)", async () => {
    const dir = tempDir("bp-lock-race-");
    const state = path.join(dir, "state");
    const file = script(
      dir,
      "hammer.mjs",
      `import { acquireLock } from ${JSON.stringify(STATE)};
const marker = path.join(dir, "inside");
let held = 0, overlaps = 0, refused = 0;
while (Date.now() < until) {
  let lock;
  try { lock = await acquireLock(dir); } catch {
    refused++;
    // try again soon (a real second run would not try at all)
    const pause = Date.now() + 5 + Math.random() * 10; while (Date.now() < pause) {}
    continue;
  }
  held++;
  // the critical section: a second holder finds the marker there
  try { fs.closeSync(fs.openSync(marker, "wx")); } catch { overlaps++; }
  const end = Date.now() + 3; while (Date.now() < end) {}
  fs.rmSync(marker, { force: true });
  // now and then die holding it: the next holder takes over a lock whose owner is gone
  if (Math.random() < 0.15) { console.log(JSON.stringify({ held, overlaps, refused })); process.kill(process.pid, "SIGKILL"); }
  lock.release();
}
console.log(JSON.stringify({ held, overlaps, refused }));
`,
    );
    const startAt = Date.now() + 1500;
    const racers = Array.from({ length: 6 }, () =>
      runNode([file, state, String(startAt), String(startAt + 4000)], { cwd: dir }),
    );
    const results = (await Promise.all(racers)).map((r) => {
      expect(r.stderr).toBe("");
      return JSON.parse(r.stdout.trim().split("\n").at(-1)!) as { held: number; overlaps: number };
    });
    expect(results.reduce((n, r) => n + r.held, 0)).toBeGreaterThanOrEqual(6);
    expect(results.map((r) => r.overlaps)).toEqual([0, 0, 0, 0, 0, 0]);
  });

  it("its holder is readable whole while held, and no one holds it after the holder is killed", async () => {
    const dir = tempDir("bp-lock-holder-");
    const state = path.join(dir, "state");
    const file = script(
      dir,
      "hold.mjs",
      `import { acquireLock } from ${JSON.stringify(STATE)};
await acquireLock(dir, { command: "watch" });
console.log(JSON.stringify({ type: "held" }));
setTimeout(() => {}, 60_000);
`,
    );
    const { lockHolder } = await import("../src/state/lock.js");
    let holder: ReturnType<typeof lockHolder>;
    const ended = await runNode([file, state, "0", "0"], {
      cwd: dir,
      onEvent: (event, child) => {
        if (event.type !== "held") return;
        holder = lockHolder(state);
        signalOnce(child, "SIGKILL");
      },
    });
    expect(ended.stderr).toBe("");
    expect(holder).toMatchObject({ command: "watch" });
    expect(holder!.pid).toBeGreaterThan(0);
    expect(ended.signal).toBe("SIGKILL");
    expect(lockHolder(state)).toBeUndefined();
    expect(fs.statSync(state).mode & 0o777).toBe(0o700);
  });
});

describe("a holder that has taken the lock but not yet named itself (starting)", () => {
  it("is running, pid unknown: never pid 0, nor an earlier holder's pid; `batchpipe run` beside it says it is starting", async () => {
    const dir = tempDir("bp-lock-starting-");
    writeEmulatorPipeline(dir, { name: "starting", source: "./data.jsonl" });
    fs.writeFileSync(path.join(dir, "data.jsonl"), '{"id":"a","text":"x"}\n');
    const state = path.join(dir, ".batchpipe", "starting");
    fs.mkdirSync(state, { recursive: true });
    // an earlier holder SIGKILLed while it held the lock left its name behind; its pid is gone
    const gone = Number(spawnSync(process.execPath, ["-e", "console.log(process.pid)"]).stdout.toString());
    fs.writeFileSync(path.join(state, "run.lock.json"), `${gone} 123456 run\n`);
    // the lock is taken the way acquireLock takes it, and held there, before the holder writes its name
    const file = script(
      dir,
      "take.mjs",
      `import { holdExclusive } from ${JSON.stringify(path.join(ROOT, "packages/core/dist/state/lock.js"))};
holdExclusive(path.join(dir, "run.lock"), 1000);
console.log(JSON.stringify({ type: "held" }));
setTimeout(() => {}, 60_000);
`,
    );
    const { lockHolder } = await import("../src/state/lock.js");
    let seen: Promise<{
      holder: ReturnType<typeof lockHolder>;
      stale: ReturnType<typeof lockHolder>;
      run: string;
    }>;
    const ended = await runNode([file, state, "0", "0"], {
      cwd: dir,
      onEvent: (event, child) => {
        if (event.type !== "held") return;
        seen = (async () => {
          try {
            const stale = lockHolder(state);
            fs.rmSync(path.join(state, "run.lock.json"));
            const holder = lockHolder(state);
            const run = await batchpipe(["run", "pipeline.yaml"], { cwd: dir });
            return { holder, stale, run: `${run.code} ${run.stderr}` };
          } finally {
            signalOnce(child, "SIGKILL");
          }
        })();
      },
    });
    expect(ended.signal).toBe("SIGKILL");
    const { holder, stale, run } = await seen!;
    expect(stale).toEqual({ pid: null, command: "run" });
    expect(holder).toEqual({ pid: null, command: "run" });
    expect(run.replaceAll(dir, "<dir>")).toMatchInlineSnapshot(`
      "1 ✖ another batchpipe process (starting: its pid is not known yet) is running this pipeline (.batchpipe/starting) (STATE_FAILED)
        hint: Wait for it to finish, or stop it (it saves its state); \`batchpipe status\` shows its progress.
      "
    `);
  });

  it("a loop of lockHolder beside a process taking and releasing the lock sees its pid or none, never pid 0", async () => {
    const dir = tempDir("bp-lock-loop-");
    const state = path.join(dir, "state");
    const file = script(
      dir,
      "cycle.mjs",
      `import { acquireLock } from ${JSON.stringify(STATE)};
let held = 0;
while (Date.now() < until) {
  const lock = await acquireLock(dir);
  held++;
  const end = Date.now() + 2; while (Date.now() < end) {}
  lock.release();
}
console.log(JSON.stringify({ held, pid: process.pid }));
`,
    );
    const { lockHolder } = await import("../src/state/lock.js");
    const startAt = Date.now() + 1000;
    const cycling = runNode([file, state, String(startAt), String(startAt + 3000)], { cwd: dir });
    const pids = new Map<string, number>();
    while (Date.now() < startAt + 3000) {
      const holder = lockHolder(state);
      if (holder) pids.set(String(holder.pid), (pids.get(String(holder.pid)) ?? 0) + 1);
      await new Promise((r) => setImmediate(r));
    }
    const ended = await cycling;
    expect(ended.stderr).toBe("");
    const { held, pid } = JSON.parse(ended.stdout.trim()) as { held: number; pid: number };
    expect(held).toBeGreaterThan(10);
    expect(pids.get(String(pid)), JSON.stringify([...pids])).toBeGreaterThan(0);
    expect(
      [...pids.keys()].filter((p) => p !== String(pid) && p !== "null"),
      JSON.stringify([...pids]),
    ).toEqual([]);
  });
});

describe("waiting for a lock another process holds", () => {
  it("lets the event loop turn: runSpec's refusal takes the lock's wait, and a 5 ms interval runs meanwhile", async () => {
    const dir = tempDir("bp-lock-wait-");
    fs.writeFileSync(path.join(dir, "data.jsonl"), '{"id":"a","text":"x"}\n');
    const file = script(
      dir,
      "hold.mjs",
      `import { acquireLock } from ${JSON.stringify(STATE)};
await acquireLock(path.join(dir, ".batchpipe", "waiting"));
console.log(JSON.stringify({ type: "held" }));
setTimeout(() => {}, 60_000);
`,
    );
    const spec = {
      version: 1,
      name: "waiting",
      provider: { use: "emulator", emulator: { timeScale: 3600 } },
      source: { use: "jsonl", path: "./data.jsonl" },
      transform: { body: { model: "gpt-4o-mini", messages: [{ role: "user", content: "{{ text }}" }] } },
      sinks: [{ use: "jsonl", path: "./out/results.jsonl" }],
    };
    let seen: Promise<{ code: string; ms: number; ticks: number }>;
    const ended = await runNode([file, dir, "0", "0"], {
      cwd: dir,
      onEvent: (event, child) => {
        if (event.type !== "held") return;
        seen = (async () => {
          try {
            // the plugins' modules are loaded once, outside the figures
            await runSpec(spec, { dir, builtins: officialPlugins }).catch(() => {});
            let ticks = 0;
            const interval = setInterval(() => ticks++, 5);
            const start = performance.now();
            const error = (await runSpec(spec, { dir, builtins: officialPlugins }).catch((e) => e)) as {
              code: string;
            };
            const ms = performance.now() - start;
            clearInterval(interval);
            return { code: error.code, ms, ticks };
          } finally {
            signalOnce(child, "SIGKILL");
          }
        })();
      },
    });
    expect(ended.signal).toBe("SIGKILL");
    const { code, ms, ticks } = await seen!;
    expect(code).toBe("STATE_FAILED");
    expect(ms).toBeGreaterThanOrEqual(200);
    // ~50 where the loop turns while waiting; 0 where the wait blocked it
    expect(ticks, `${ticks} runs of the interval in ${ms.toFixed(0)} ms`).toBeGreaterThanOrEqual(10);
  });
});

describe("the daemon's pid file", () => {
  it("of several starts racing, one starts a daemon; the pid file names it, whole", async () => {
    const dir = tempDir("bp-daemon-race-");
    const sleeper = path.join(dir, "sleeper.mjs");
    fs.writeFileSync(sleeper, "setTimeout(() => {}, 4000);\n");
    const file = script(
      dir,
      "start.mjs",
      `import { startDaemon } from ${JSON.stringify(DAEMON)};
try {
  const info = startDaemon({ stateDir: dir, args: [${JSON.stringify(sleeper)}], name: "race" });
  console.log("started " + info.pid);
} catch (error) {
  console.log("refused " + error.message);
}
`,
    );
    // three rounds, each in a fresh state folder: one lucky round proves little
    for (const round of [1, 2, 3]) {
      const state = path.join(dir, `state-${round}`);
      const startAt = Date.now() + 1500;
      const runs = await Promise.all(
        Array.from({ length: 6 }, () => runNode([file, state, String(startAt), "0"], { cwd: dir })),
      );
      const lines = runs.map((r) => r.stdout.trim());
      const started = lines.filter((l) => l.startsWith("started "));
      for (const line of started) process.kill(Number(line.slice("started ".length)), "SIGKILL");
      expect(started, lines.join("\n")).toHaveLength(1);
      expect(lines.filter((l) => l.startsWith("refused "))).toHaveLength(5);
      const pid = started[0]!.slice("started ".length);
      expect(fs.readFileSync(path.join(state, "daemon.pid"), "utf8")).toBe(`${pid}\n`);
      expect(JSON.parse(fs.readFileSync(path.join(state, "daemon.json"), "utf8")).pid).toBe(Number(pid));
      expect(fs.statSync(path.join(state, "daemon.log")).mode & 0o777).toBe(0o600);
    }
  });
});
