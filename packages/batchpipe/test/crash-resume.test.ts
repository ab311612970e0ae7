import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  batchpipe,
  type ChildRun,
  duplicateSubmissions,
  type EmulatorProcess,
  exactlyOnceInSinks,
  ONCE,
  readJsonl,
  SENTIMENT,
  signalOnce,
  startEmulatorProcess,
  tempDir,
  writeDataset,
  writePipeline,
} from "./support/harness.js";

/** deterministic "random" moments */
function mulberry32(seed: number) {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** the natural order of a run's steps; each kill lands a seeded few ms after the nth such event */
const MOMENT_EVENTS: [string, number][] = [
  ["planned", 1],
  ["shard_staged", 2],
  ["shard_submitted", 2],
  ["batch_status", 3],
  ["shard_collected", 1],
  ["progress", 12],
];

interface Moment {
  event: string;
  nth: number;
  delayMs: number;
}

function seededMoments(seed: number): Moment[] {
  const random = mulberry32(seed);
  return MOMENT_EVENTS.map(([event, maxNth]) => ({
    event,
    nth: 1 + Math.floor(random() * maxNth),
    delayMs: Math.floor(random() * 40),
  }));
}

async function crashAndResume(emulator: EmulatorProcess, seed: number) {
  const dir = tempDir("bp-crash-");
  // enough shards (30) that each seeded moment still comes in the run it is meant for: with 1,000
  // records a resumed run could end before its kill landed, with 2,000 one run in ten did, and with
  // 3,000 (15 shards) a resumed run could stage every shard left before its kill, so the next had no
  // second submission to be killed at (4 kills of 6 in a loaded CI run; 8 of 8 runs with 6 at 6,000)
  const n = 6000;
  writeDataset(dir, n);
  const spec = writePipeline(dir, {
    ...SENTIMENT,
    baseUrl: emulator.url,
    batch: { max_requests: 200, poll_interval: "50ms" },
  });
  const runs: ChildRun[] = [];
  for (const moment of seededMoments(seed)) {
    let seen = 0;
    const result = await batchpipe(["run", spec, "--json"], {
      cwd: dir,
      // small delivery parts, so kills also land between the parts of one shard's delivery
      engine: { deliveryPartSize: 70 },
      onEvent: (event, child) => {
        if (event.type === moment.event && ++seen === moment.nth)
          signalOnce(child, "SIGKILL", moment.delayMs);
      },
    });
    runs.push(result);
    if (process.env.BP_DEBUG)
      console.log(
        moment,
        result.code,
        result.signal,
        result.events.map((e) => e.type).join(","),
        result.stderr,
      );
  }
  // and once more to the end
  const last = await batchpipe(["run", spec, "--json"], {
    cwd: dir,
    engine: { deliveryPartSize: 70 },
  });
  runs.push(last);
  return { dir, runs, n };
}

describe("SIGKILL at seeded moments, then resume (real CLI, emulator in its own process)", () => {
  let emulator: EmulatorProcess | undefined;
  afterEach(async () => {
    await emulator?.close();
  });

  const check = async (emulator: EmulatorProcess, dir: string, runs: ChildRun[], n: number) => {
    const killed = runs.filter((r) => r.signal === "SIGKILL").length;
    const finals = runs.filter((r) => r.code === 0);
    expect(finals.length).toBeGreaterThanOrEqual(1);
    for (const r of runs) expect(r.code === 0 || r.signal === "SIGKILL", r.stderr).toBe(true);
    const expected = Array.from({ length: n }, (_, i) => `rec-${i + 1}`);
    expect(exactlyOnceInSinks(dir, expected)).toEqual(ONCE);
    expect(readJsonl(path.join(dir, "out/errors.jsonl"))).toEqual([]);
    const state = await emulator.state();
    expect(duplicateSubmissions(state)).toEqual([]);
    const perShard = new Map<string, number>();
    for (const b of state.batches) {
      const key = `${b.metadata?.batchpipe_run}/${b.metadata?.batchpipe_shard}`;
      perShard.set(key, (perShard.get(key) ?? 0) + 1);
    }
    expect([...perShard.values()].every((count) => count === 1)).toBe(true);
    return { killed, batches: state.batches.length, calls: state.calls };
  };

  it("kills at 6 seeded moments (one mid-delivery): every id once in each sink, no batch submitted twice", async () => {
    emulator = await startEmulatorProcess({
      timeScale: 1,
      latencies: { linesPerSecond: 400, validation: 0.05 },
    });
    const { dir, runs, n } = await crashAndResume(emulator, 11);
    const figures = await check(emulator, dir, runs, n);
    expect(figures.killed).toBeGreaterThanOrEqual(5);
    console.log(`crash test: ${figures.killed} kills, ${runs.length} runs, ${figures.batches} batches`);
  }, 180_000);

  it("the same with faults: 20% of calls 500/429, 30% of creates answering 500 after creating", async () => {
    emulator = await startEmulatorProcess({
      timeScale: 1,
      latencies: { linesPerSecond: 400, validation: 0.05 },
      faults: [
        { route: "POST /v1/batches", rate: 0.3, kind: "drop", status: 500, retryAfterMs: 20 },
        { route: "*", rate: 0.1, status: 429, retryAfterMs: 20 },
        { route: "*", rate: 0.11, status: 500, retryAfterMs: 20 },
      ],
    });
    const { dir, runs, n } = await crashAndResume(emulator, 23);
    const figures = await check(emulator, dir, runs, n);
    const state = await emulator.state();
    expect(state.counters.faults_injected).toBeGreaterThan(0);
    console.log(
      `crash + faults: ${figures.killed} kills, ${runs.length} runs, ${figures.batches} batches, ${state.counters.faults_injected} faults`,
    );
  }, 240_000);
});
