/**
 * Exactly once on Anthropic's Message Batches (no metadata, no idempotency key): SIGKILL at seeded
 * moments, including right after a create, while 20 % of calls fail (429 / 500 / 529) and 30 % of
 * creates answer 500 after creating the batch. Real CLI, emulator in its own process.
 */
import path from "node:path";
import { afterAll, expect, it } from "vitest";
import { anthropicState, env, KEY, writeAnthropicPipeline } from "./support/anthropic.js";
import {
  batchpipe,
  type ChildRun,
  type CliEvent,
  type EmulatorProcess,
  exactlyOnceInSinks,
  ONCE,
  readJsonl,
  signalOnce,
  startEmulatorProcess,
  tempDir,
} from "./support/harness.js";

function mulberry32(seed: number) {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const createFailed = (e: CliEvent) =>
  e.type === "warning" && String(e.message).includes("POST /v1/messages/batches failed");

/** five moments in a run's natural order; each names the event it follows and how many of them */
function seededMoments(
  seed: number,
): { name: string; at: (e: CliEvent, seen: number) => boolean; delayMs: number }[] {
  const random = mulberry32(seed);
  const nth = (max: number) => 1 + Math.floor(random() * max);
  const staged = 2 * nth(2);
  const submitted = nth(2);
  const polled = nth(3);
  const collected = nth(2);
  return [
    // the 2nd, 4th… stage of a run is the one right after a create (the 1st is the intent before it)
    {
      name: `right after create (stage #${staged})`,
      at: (e, n) => e.type === "shard_staged" && n === staged,
      delayMs: 0,
    },
    // a create answered 500 after creating: killed before the retry finds it
    {
      name: "after a lost create answer",
      at: (e, n) => createFailed(e) || (e.type === "shard_submitted" && n === 2),
      delayMs: 0,
    },
    {
      name: `after submission #${submitted}`,
      at: (e, n) => e.type === "shard_submitted" && n === submitted,
      delayMs: Math.floor(random() * 40),
    },
    {
      name: `after poll #${polled}`,
      at: (e, n) => e.type === "batch_status" && n === polled,
      delayMs: Math.floor(random() * 40),
    },
    {
      name: `mid-delivery #${collected}`,
      at: (e, n) => e.type === "shard_collected" && n === collected,
      delayMs: Math.floor(random() * 40),
    },
  ];
}

let emu: EmulatorProcess | undefined;
afterAll(async () => {
  await emu?.close();
});

it("SIGKILL at 5 seeded moments with 20 % failing calls and 30 % lost creates: every id once in each sink, nothing paid twice", async () => {
  emu = await startEmulatorProcess({
    apiKey: KEY,
    seed: 14,
    timeScale: 1,
    latencies: { linesPerSecond: 600 },
    faults: [
      // the 2nd and 5th creates surely, then 30 % of the others, create the batch and answer 500
      { route: "POST /v1/messages/batches", calls: [2, 5], kind: "drop", status: 500 },
      { route: "POST /v1/messages/batches", rate: 0.3, kind: "drop", status: 500 },
      { route: "*", rate: 0.07, status: 429, retryAfterMs: 20 },
      { route: "*", rate: 0.07, status: 500 },
      { route: "*", rate: 0.07, status: 529 },
    ],
  });
  const dir = tempDir("bp-anth-crash-");
  const n = 3000;
  const ids = writeAnthropicPipeline(dir, {
    name: "anth-crash",
    baseUrl: emu.origin,
    n,
    batch: { max_requests: 600 },
  });
  const runs: { moment: string; run: ChildRun; killedAt?: string }[] = [];
  for (const moment of seededMoments(14)) {
    const counts = new Map<string, number>();
    let killedAt: string | undefined;
    const run = await batchpipe(["run", "pipeline.yaml", "--json"], {
      cwd: dir,
      env,
      engine: { deliveryPartSize: 100 },
      timeoutMs: 120_000,
      onEvent: (event, child) => {
        const seen = (counts.get(event.type) ?? 0) + 1;
        counts.set(event.type, seen);
        if (!killedAt && moment.at(event, seen)) {
          killedAt = `${event.type} #${seen}${event.type === "warning" ? `: ${String(event.message).slice(0, 60)}` : ""}`;
          signalOnce(child, "SIGKILL", moment.delayMs);
        }
      },
    });
    runs.push({ moment: moment.name, run, killedAt });
  }
  const last = await batchpipe(["run", "pipeline.yaml", "--json"], { cwd: dir, env, timeoutMs: 120_000 });
  runs.push({ moment: "to the end", run: last });

  for (const { run } of runs) expect(run.code === 0 || run.signal === "SIGKILL", run.stderr).toBe(true);
  const killed = runs.filter((r) => r.run.signal === "SIGKILL");
  expect(killed.length).toBe(5);
  expect(last.code, last.stderr).toBe(0);
  expect(exactlyOnceInSinks(dir, ids)).toEqual(ONCE);
  expect(readJsonl(path.join(dir, "out/errors.jsonl"))).toEqual([]);
  const state = await anthropicState(emu);
  const all = await emu.state();
  expect(state.paid_twice).toEqual([]);
  expect(state.params_paid_twice).toEqual([]);
  // every record was paid for exactly once: no batch was created twice for a shard
  expect(Object.values(state.paid).reduce((a, b) => a + b, 0)).toBe(n);
  // submissions found again after a kill instead of being created again
  const adopted = runs.flatMap((r) => r.run.events).filter((e) => e.type === "shard_submitted" && e.adopted);
  expect(adopted.length).toBeGreaterThan(0);
  const calls = Object.values(all.calls).reduce((a, b) => a + b, 0);
  console.log(
    `anthropic crash test: ${killed.length} kills (${killed.map((k) => `${k.moment} at ${k.killedAt}`).join("; ")}), ` +
      `${runs.length} runs, ${state.batches.length} batches, ${adopted.length} adopted after a kill, ` +
      `${all.counters.faults_injected} faults injected in ${calls} calls, ${all.calls["POST /v1/messages/batches"]} creates called`,
  );
}, 600_000);
