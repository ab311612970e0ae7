/**
 * The result cache end to end (DESIGN §3): the real CLI in child processes against the emulator in
 * its own process, which counts what it was sent (the request lines of every batch it got).
 */
import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  batchpipe,
  type ChildRun,
  duplicateSubmissions,
  type EmulatorProcess,
  exactlyOnceInSinks,
  ONCE,
  readJsonl,
  report,
  SENTIMENT,
  signalOnce,
  startEmulatorProcess,
  tempDir,
  writeDataset,
  writePipeline,
} from "./support/harness.js";

let emulator: EmulatorProcess;

beforeAll(async () => {
  emulator = await startEmulatorProcess({ timeScale: 1000 });
});
afterAll(async () => {
  await emulator?.close();
});

/** request lines the emulator received in batches, over all runs so far */
async function sent(): Promise<number> {
  const state = await emulator.state();
  return state.batches.reduce((n, b) => n + b.request_counts.total, 0);
}

/** request lines of the batches created after `before` (a count of batches) */
async function sentSince(before: number): Promise<number> {
  const state = await emulator.state();
  return state.batches.slice(before).reduce((n, b) => n + b.request_counts.total, 0);
}

async function batchCount(): Promise<number> {
  return (await emulator.state()).batches.length;
}

function pipeline(name: string, n: number, batch: Record<string, string | number | boolean> = {}) {
  const dir = tempDir("bp-cache-");
  writeDataset(dir, n);
  const spec = writePipeline(dir, {
    ...SENTIMENT,
    name,
    baseUrl: emulator.url,
    batch: { max_requests: 200, poll_interval: "50ms", ...batch },
  });
  const ids = Array.from({ length: n }, (_, i) => `rec-${i + 1}`);
  return { dir, spec, ids };
}

async function run(spec: string, dir: string, extra: string[] = []): Promise<ChildRun> {
  return batchpipe(["run", spec, "--json", ...extra], { cwd: dir });
}

describe("the result cache", () => {
  it("a rerun of an unchanged dataset sends nothing and delivers every row again, from the cache", async () => {
    const { dir, spec, ids } = pipeline("unchanged", 500);
    const before = await batchCount();
    const first = await run(spec, dir);
    expect(first.code, first.stderr).toBe(0);
    expect(await sentSince(before)).toBe(500);

    const again = await batchCount();
    const second = await run(spec, dir);
    expect(second.code, second.stderr).toBe(0);
    expect(await sentSince(again)).toBe(0);
    expect(report(second)).toMatchObject({
      read: 500,
      succeeded: 500,
      failed: 0,
      cached: 500,
      cost: 0,
      unaccounted: 0,
    });
    expect((report(second)!.cachedSaved as number) > 0).toBe(true);
    // jsonl: a fresh file with every row; sqlite: every id (upserted) once
    expect(exactlyOnceInSinks(dir, ids)).toEqual(ONCE);
    const rows = readJsonl<{ batch_id: string; output: unknown }>(path.join(dir, "out/results.jsonl"));
    expect(rows.every((r) => r.batch_id === "cache" && r.output !== undefined)).toBe(true);

    // plan says the same before anything runs
    const plan = await batchpipe(["plan", spec, "--json"], { cwd: dir });
    expect(plan.code, plan.stderr).toBe(0);
    expect(JSON.parse(plan.stdout).totals).toMatchObject({ read: 500, cached: 500, requests: 0 });
    // cached shards send no tokens: none are estimated for them
    const shards = JSON.parse(plan.stdout).shards as {
      cached: boolean;
      inputTokens: number;
      outputTokens: number;
    }[];
    expect(shards.length).toBeGreaterThan(0);
    for (const shard of shards)
      expect(shard).toMatchObject({ cached: true, inputTokens: 0, outputTokens: 0 });
  });

  it("10 changed records send exactly 10; --no-cache and allow_same_dataset send everything", async () => {
    const { dir, spec, ids } = pipeline("changed", 300);
    expect((await run(spec, dir)).code).toBe(0);
    writeDataset(dir, 300, {
      text: (i) =>
        i % 30 === 0
          ? `Changed review ${i}.`
          : `Review number ${i}: the product is ${i % 3 === 0 ? "bad" : "good"}.`,
    });
    let before = await batchCount();
    const changed = await run(spec, dir);
    expect(changed.code, changed.stderr).toBe(0);
    expect(await sentSince(before)).toBe(10);
    expect(report(changed)).toMatchObject({ succeeded: 300, cached: 290 });
    expect(exactlyOnceInSinks(dir, ids)).toEqual(ONCE);

    before = await batchCount();
    const fresh = await run(spec, dir, ["--no-cache"]);
    expect(fresh.code, fresh.stderr).toBe(0);
    expect(await sentSince(before)).toBe(300);
    expect(report(fresh)).toMatchObject({ succeeded: 300, cached: 0 });
    expect(exactlyOnceInSinks(dir, ids)).toEqual(ONCE);

    fs.writeFileSync(
      spec,
      fs.readFileSync(spec, "utf8").replace("batch:\n", "batch:\n  allow_same_dataset: true\n"),
    );
    before = await batchCount();
    const allowed = await run(spec, dir);
    expect(allowed.code, allowed.stderr).toBe(0);
    expect(await sentSince(before)).toBe(300);
  });

  it("answers only with what the same server answered: another base_url sends everything; back to the first, its results answer", async () => {
    const { dir, spec, ids } = pipeline("origin", 200);
    expect((await run(spec, dir)).code).toBe(0);
    const original = fs.readFileSync(spec, "utf8");
    const pointedAt = (url: string) => original.replace(`base_url: ${emulator.url}\n`, `base_url: ${url}\n`);
    // another OpenAI-compatible server (its own process, its own answers)
    const other = await startEmulatorProcess({ timeScale: 1000, seed: 7 });
    try {
      fs.writeFileSync(spec, pointedAt(other.url));
      const planned = await batchpipe(["plan", spec, "--json"], { cwd: dir });
      expect(JSON.parse(planned.stdout).totals).toMatchObject({ requests: 200, cached: 0 });
      const elsewhere = await run(spec, dir);
      expect(elsewhere.code, elsewhere.stderr).toBe(0);
      const sentThere = (await other.state()).batches.reduce((n, b) => n + b.request_counts.total, 0);
      expect(sentThere).toBe(200);
      expect(report(elsewhere)).toMatchObject({ succeeded: 200, cached: 0 });
      expect(exactlyOnceInSinks(dir, ids)).toEqual(ONCE);
    } finally {
      await other.close();
    }
    // the first server again (a trailing slash is the same URL): answered from the cache
    fs.writeFileSync(spec, pointedAt(`${emulator.url}/`));
    const before = await batchCount();
    const back = await run(spec, dir);
    expect(back.code, back.stderr).toBe(0);
    expect(await sentSince(before)).toBe(0);
    expect(report(back)).toMatchObject({ succeeded: 200, cached: 200 });
  });

  it("a run with 300 failures, run again once the provider is well, sends exactly those 300", async () => {
    const { dir, spec, ids } = pipeline("failures", 1000, { max_attempts: 1 });
    const failing = ids.filter((_, i) => i % 3 === 0).slice(0, 300);
    await emulator.configure({ lineRules: [{ customIds: failing, error: "server_error" }] });
    let first: ChildRun;
    try {
      first = await run(spec, dir);
    } finally {
      await emulator.configure({ lineRules: [] });
    }
    expect(first.code, first.stderr).toBe(3);
    expect(report(first)).toMatchObject({ succeeded: 700, failed: 300 });

    const before = await batchCount();
    const second = await run(spec, dir);
    expect(second.code, second.stderr).toBe(0);
    expect(await sentSince(before)).toBe(300);
    expect(report(second)).toMatchObject({ succeeded: 1000, failed: 0, cached: 700 });
    expect(exactlyOnceInSinks(dir, ids)).toEqual(ONCE);
  });

  it("survives SIGKILL during delivery: nothing paid twice, every id once", async () => {
    const { dir, spec, ids } = pipeline("killed", 1000);
    const start = await sent();
    const first = await batchCount();
    const engine = { deliveryPartSize: 70 };
    const killAt = (nth: number) => (event: { type: string }, child: Parameters<typeof signalOnce>[0]) => {
      if (event.type === "shard_collected" && --nth === 0) signalOnce(child, "SIGKILL", 5);
    };
    // killed while paid shards are delivered (the cache is written part by part), then resumed
    const killed = await batchpipe(["run", spec, "--json"], { cwd: dir, engine, onEvent: killAt(2) });
    expect(killed.signal).toBe("SIGKILL");
    const resumed = await batchpipe(["run", spec, "--json"], { cwd: dir, engine });
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(exactlyOnceInSinks(dir, ids)).toEqual(ONCE);
    // a new run, killed while its cached shards are delivered, then resumed
    const cachedKilled = await batchpipe(["run", spec, "--json"], { cwd: dir, engine, onEvent: killAt(1) });
    expect(cachedKilled.signal).toBe("SIGKILL");
    const cachedResumed = await batchpipe(["run", spec, "--json"], { cwd: dir, engine });
    expect(cachedResumed.code, cachedResumed.stderr).toBe(0);
    expect(report(cachedResumed)).toMatchObject({
      succeeded: 1000,
      cached: 1000,
      cachedRequests: 1000,
      cost: 0,
    });
    expect(exactlyOnceInSinks(dir, ids)).toEqual(ONCE);
    expect(await sent()).toBe(start + 1000);
    // the emulator is shared with the other tests (same datasets): only this pipeline's batches
    const state = await emulator.state();
    expect(duplicateSubmissions({ ...state, batches: state.batches.slice(first) })).toEqual([]);
  });

  it("batchpipe cache shows the entries and --clear empties it (the next run sends everything)", async () => {
    const { dir, spec } = pipeline("shown", 120);
    const empty = await batchpipe(["cache", spec], { cwd: dir });
    expect(empty.code, empty.stderr).toBe(0);
    expect(empty.stdout).toMatch(/the result cache is empty/);
    expect((await run(spec, dir)).code).toBe(0);

    const shown = await batchpipe(["cache", spec], { cwd: dir });
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toMatch(/entries\s+120\n/);
    expect(shown.stdout).toMatch(
      /on disk +\d+(\.\d)? KB \(\d+(\.\d)? KB of compressed results; bound: batch.cache_max_size 1GB\)/,
    );
    const json = JSON.parse((await batchpipe(["cache", spec, "--json"], { cwd: dir })).stdout);
    expect(json.cache).toMatchObject({ entries: 120 });
    expect(json.cache.bytes).toBeGreaterThan(0);
    expect(json.cache.oldest).toBeLessThanOrEqual(json.cache.newest);
    const mode = fs.statSync(path.join(dir, ".batchpipe/shown/cache.db")).mode & 0o777;
    expect(mode).toBe(0o600);

    const plan = await batchpipe(["plan", spec], { cwd: dir });
    expect(plan.stdout).toMatch(/120 requests are answered from the result cache, not sent \(saved \$/);
    // it said "120 records → 0 requests in 1 shard"
    expect(plan.stdout).toMatch(/^plan for shown: 120 records → nothing to send$/m);
    const rerun = await batchpipe(["run", spec], { cwd: dir });
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(rerun.stderr).toMatch(
      /^ {2}read 120 records → nothing to send · 120 requests answered from the cache/m,
    );
    // its shard uploads nothing and sends no tokens: size and tokens are "-" (they showed the
    // results file's size and the tokens an earlier run paid for, beside totals of 0)
    expect(plan.stdout).toMatch(
      /^ {2}\d+ \(cached\) +gpt-4o-mini +\/v1\/chat\/completions +120 +- +- +\$0\.0000$/m,
    );
    expect(plan.stdout).toMatch(/estimated input tokens +0$/m);

    const cleared = await batchpipe(["cache", spec, "--clear"], { cwd: dir });
    expect(cleared.code, cleared.stderr).toBe(0);
    expect(cleared.stdout).toMatch(/cleared the result cache of shown: 120 entries/);
    expect((await batchpipe(["cache", spec], { cwd: dir })).stdout).toMatch(/empty/);
    // the second --clear said "shown has no result cache": not what was done, nor that all is well
    const twice = await batchpipe(["cache", spec, "--clear"], { cwd: dir });
    expect({ code: twice.code, stdout: twice.stdout.replace(dir, "<dir>") }).toMatchInlineSnapshot(`
      {
        "code": 0,
        "stdout": "✓ nothing to clear: the result cache of shown is already empty (state: <dir>/.batchpipe/shown)
      ",
      }
    `);
    const before = await batchCount();
    const again = await run(spec, dir);
    expect(again.code, again.stderr).toBe(0);
    expect(await sentSince(before)).toBe(120);
  });

  // it said "never has no result cache" and made .batchpipe/never/ (with a run.lock) to say so
  it("cache --clear of a pipeline never run says there is nothing to clear and makes no state folder", async () => {
    const { dir, spec } = pipeline("never", 3);
    const cleared = await batchpipe(["cache", spec, "--clear"], { cwd: dir });
    expect({ code: cleared.code, stdout: cleared.stdout.replace(dir, "<dir>") }).toMatchInlineSnapshot(`
      {
        "code": 0,
        "stdout": "✓ nothing to clear: the result cache of never is already empty (state: <dir>/.batchpipe/never)
      ",
      }
    `);
    expect(fs.existsSync(path.join(dir, ".batchpipe"))).toBe(false);
  });

  it("a cache written by a newer batchpipe: run, plan and cache refuse it (STATE_FAILED, what to do) and leave it; cache --clear empties it", async () => {
    const { dir, spec, ids } = pipeline("newer", 30);
    const file = path.join(dir, ".batchpipe/newer/cache.db");
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const db = new Database(file);
    db.pragma("user_version = 99");
    db.close();
    for (const args of [
      ["run", spec],
      ["plan", spec],
      ["cache", spec],
    ]) {
      const refused = await batchpipe(args, { cwd: dir });
      expect(refused.code, args.join(" ")).toBe(1);
      expect(refused.stderr).toMatch(
        /cannot open the result cache .*cache\.db: its layout \(99\) is newer than this batchpipe's .*\(STATE_FAILED\)/,
      );
      expect(refused.stderr).toMatch(
        /hint: Run it with the batchpipe version that wrote the cache .* `batchpipe cache <spec> --clear`/,
      );
      expect(refused.stderr).not.toMatch(/unexpected error/);
    }
    const kept = new Database(file, { readonly: true });
    expect(kept.pragma("user_version", { simple: true })).toBe(99);
    kept.close();
    const cleared = await batchpipe(["cache", spec, "--clear"], { cwd: dir });
    expect(cleared.code, cleared.stderr).toBe(0);
    expect(cleared.stdout).toMatch(
      /cleared the result cache of newer \(its figures could not be read: .*layout \(99\) is newer/,
    );
    const before = await batchCount();
    const after = await run(spec, dir);
    expect(after.code, after.stderr).toBe(0);
    expect(await sentSince(before)).toBe(30);
    expect(exactlyOnceInSinks(dir, ids)).toEqual(ONCE);
  });
});
