// Streaming submission (issue 17 item 2) through the real CLI against the emulator: shards are
// submitted while a slow source (a .ts plugin beside the spec) is still being read; a duplicate id
// mid-stream fails its record as duplicate_id and the run goes on; SIGKILL at five moments of an
// overlapped read-and-submit run, then `batchpipe run` again: every id once in each sink, and no
// custom_id in two input files (no request paid twice); the same for a rerun whose read places
// requests of the result cache in cached shards beside new ones in paid shards.
import fs from "node:fs";
import path from "node:path";
import type { Emulator } from "@batchpipe/openai-emulator";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  batchesOf,
  batchpipe,
  type ChildRun,
  type CliEvent,
  duplicateSubmissions,
  exactlyOnceInSinks,
  FIXTURES,
  fileIds,
  ONCE,
  readJsonl,
  report,
  startEmulator,
  tempDir,
  waitFor,
  writePipeline,
} from "./support/harness.js";

let emu: Emulator;
beforeAll(async () => {
  emu = await startEmulator();
});
afterAll(async () => {
  await emu?.close();
});

const ENGINE = { readCheckpointEvery: 1000 };

// JSON lines with a cursor (the line number); it pauses `pause_ms` every 100 records, and after
// `hold_after` records waits (up to 60 s) for the file `go` to exist, noting whether it did
const SLOW_SOURCE = `
import fs from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { defineSource, z } from "@batchpipe/core/plugin";

export default defineSource({
  name: "slow",
  options: z.strictObject({ path: z.string(), pause_ms: z.number(), hold_after: z.number().int(), go: z.string() }),
  async *read({ options, resolvePath, checkpoint }) {
    const lines = fs.readFileSync(resolvePath(options.path), "utf8").split("\\n").filter((l) => l !== "");
    for (let i = typeof checkpoint === "number" ? checkpoint : 0; i < lines.length; i++) {
      if (i > 0 && i % 100 === 0) await sleep(options.pause_ms);
      if (i === options.hold_after) {
        const go = resolvePath(options.go);
        const until = Date.now() + 60_000;
        while (!fs.existsSync(go) && Date.now() < until) await sleep(20);
        fs.writeFileSync(go + ".seen", fs.existsSync(go) ? "go" : "timeout");
      }
      yield { data: JSON.parse(lines[i]), position: { file: "data.jsonl", line: i + 1 }, cursor: i + 1 };
    }
  },
});
`;

function slowPipeline(
  dir: string,
  o: {
    name: string;
    n: number;
    pauseMs: number;
    holdAfter?: number;
    id?: (i: number) => string;
    /** instead of the jsonl and sqlite sinks */
    sinks?: string[];
    /** batch.max_requests; default 500, null: unset (6,250 requests in the first shard, then 12,500) */
    maxRequests?: number | null;
    /** batch.clean_up; default false (the tests read the files the emulator received) */
    cleanUp?: boolean;
    /** another emulator than the file's */
    emulator?: Emulator;
    /** every record's request differs (by default 2,500 texts repeat: identical requests) */
    distinct?: boolean;
  },
): string {
  let text = "";
  for (let i = 1; i <= o.n; i++) {
    text += `${JSON.stringify({ id: o.id ? o.id(i) : `s${i}`, text: `review ${o.distinct ? i : i % 2500}` })}\n`;
  }
  fs.writeFileSync(path.join(dir, "data.jsonl"), text);
  fs.mkdirSync(path.join(dir, "plugins"), { recursive: true });
  fs.writeFileSync(path.join(dir, "plugins", "slow.ts"), SLOW_SOURCE);
  return writePipeline(dir, {
    baseUrl: (o.emulator ?? emu).url,
    name: o.name,
    source: `  { use: ./plugins/slow.ts, path: ./data.jsonl, pause_ms: ${o.pauseMs}, hold_after: ${o.holdAfter ?? -1}, go: ./go }`,
    batch: {
      ...(o.maxRequests === null ? {} : { max_requests: o.maxRequests ?? 500 }),
      clean_up: o.cleanUp ? "true" : "false",
    },
    sqlite: o.sinks === undefined,
    sinks: o.sinks,
  });
}

/** every custom_id the emulator received for this pipeline, with repeats */
async function submittedIds(name: string): Promise<string[]> {
  const ids: string[] = [];
  for (const batch of batchesOf(emu, name)) ids.push(...(await fileIds(emu, batch.input_file_id)));
  return ids;
}

/** the request lines of the batches this pipeline created after the first `skip` */
async function submittedLines(
  name: string,
  skip: number,
): Promise<{ custom_id: string; body: { messages: { content: string }[] } }[]> {
  const lines = [];
  for (const batch of batchesOf(emu, name).slice(skip)) {
    const res = await fetch(`${emu.url}/files/${batch.input_file_id}/content`, {
      headers: { authorization: "Bearer sk-test" },
    });
    for (const line of (await res.text()).split("\n")) if (line) lines.push(JSON.parse(line));
  }
  return lines;
}

/** a run whose held source (hold_after) goes on once the first batch is created */
function runReleasingSource(dir: string, spec: string) {
  return batchpipe(["run", spec, "--json"], {
    cwd: dir,
    engine: ENGINE,
    onEvent: (event) => {
      if (event.type === "shard_submitted") fs.writeFileSync(path.join(dir, "go"), "");
    },
  });
}

/** a run killed (SIGKILL) as its first batch is created, while the source is read */
function killAtFirstBatch(dir: string, spec: string) {
  return batchpipe(["run", spec, "--json"], {
    cwd: dir,
    engine: ENGINE,
    onEvent: (event, child) => {
      if (event.type === "shard_submitted") child.kill("SIGKILL");
    },
  });
}

/** a run killed (SIGKILL) at the first event `when` accepts; `seen`: the events up to it */
async function killedRun(
  dir: string,
  spec: string,
  when: (event: CliEvent, seen: CliEvent[]) => boolean,
): Promise<{ run: ChildRun; seen: CliEvent[] }> {
  const seen: CliEvent[] = [];
  const run = await batchpipe(["run", spec, "--json"], {
    cwd: dir,
    engine: ENGINE,
    onEvent: (event, child) => {
      seen.push(event);
      if (when(event, seen)) child.kill("SIGKILL");
    },
  });
  expect(run.signal, run.stderr).toBe("SIGKILL");
  return { run, seen };
}

/** `batchpipe run` again after a kill: it resumes the run and finishes */
async function resumedRun(dir: string, spec: string): Promise<ChildRun> {
  const run = await batchpipe(["run", spec, "--json"], { cwd: dir, engine: ENGINE, timeoutMs: 90_000 });
  expect(run.code, run.stderr).toBe(0);
  expect(run.events[0]).toMatchObject({ type: "run_started", resumed: true });
  return run;
}

/** the event of the run's second batch created (killedRun's `when`) */
const secondBatchCreated = (event: CliEvent, seen: CliEvent[]) =>
  event.type === "shard_submitted" && seen.filter((s) => s.type === "shard_submitted").length === 2;

/** the run delivered records s1…sN, each once in each sink */
function expectEachRecordOnce(dir: string, run: ChildRun, n: number): void {
  expect(report(run)).toMatchObject({ read: n, succeeded: n, failed: 0, unaccounted: 0 });
  expect(
    exactlyOnceInSinks(
      dir,
      Array.from({ length: n }, (_, i) => `s${i + 1}`),
    ),
  ).toEqual(ONCE);
}

const index = (events: CliEvent[], type: string) => events.findIndex((e) => e.type === type);

/** an emulator whose batches take ~1 s each (500 lines a second, in real time) */
const startSlowEmulator = () => startEmulator({ timeScale: 1, latencies: { linesPerSecond: 500 } });

/** 1,200 distinct records with clean_up on, against `emulator` (held after `holdAfter` records) */
function cleanUpPipeline(dir: string, name: string, emulator: Emulator, holdAfter?: number): string {
  return slowPipeline(dir, { name, n: 1200, pauseMs: 1, holdAfter, cleanUp: true, distinct: true, emulator });
}

/** a file of the pipeline's run's shards folder (a path that does not exist before the run does) */
function runShardFile(dir: string, name: string, file: string): string {
  const state = path.join(dir, ".batchpipe", name);
  const run = fs.existsSync(state) ? fs.readdirSync(state).find((f) => /^r\d+-/.test(f)) : undefined;
  return path.join(state, run ?? "none", "shards", file);
}

describe("streaming submission", () => {
  it("a shard's batch is created while the source is still being read", async () => {
    const dir = tempDir();
    // the source holds after 1,500 records until the test has seen the first batch created
    const spec = slowPipeline(dir, { name: "stream-first", n: 3000, pauseMs: 1, holdAfter: 1500 });
    const run = await runReleasingSource(dir, spec);
    expect(run.code, run.stderr).toBe(0);
    expect(fs.readFileSync(path.join(dir, "go.seen"), "utf8")).toBe("go");
    // `planned` comes at the read's end: the first batch was created before it
    expect(index(run.events, "shard_submitted")).toBeGreaterThan(-1);
    expect(index(run.events, "shard_submitted")).toBeLessThan(index(run.events, "planned"));
    expect(report(run)).toMatchObject({ read: 3000, succeeded: 3000, failed: 0, unaccounted: 0 });
    expect(
      exactlyOnceInSinks(
        dir,
        Array.from({ length: 3000 }, (_, i) => `s${i + 1}`),
      ),
    ).toEqual(ONCE);
  });

  it("with clean_up, a collected shard's files go at once: at the provider and its request file mid-read, its meta file once the read ended; none are left at the end", async () => {
    const name = "stream-clean";
    const dir = tempDir();
    // batches take ~1 s: the last ones are still running after the read ends
    const slow = await startSlowEmulator();
    try {
      // the source holds after 1,000 records: the first shard of 500 is submitted, ends and is collected meanwhile
      const spec = cleanUpPipeline(dir, name, slow, 1000);
      const filesOf = (batch: { input_file_id: string; output_file_id?: string | null }) =>
        slow.state().files.filter((f) => f.id === batch.input_file_id || f.id === batch.output_file_id);
      const shardFile = (suffix: string) => runShardFile(dir, name, `00001${suffix}`);
      let readEnded = false;
      let cleanedUp = false;
      const running = batchpipe(["run", spec, "--json"], {
        cwd: dir,
        engine: ENGINE,
        onEvent: (event) => {
          if (event.type === "planned") readEnded = true;
          if (event.type === "cleaned_up") cleanedUp = true;
        },
      });
      try {
        await waitFor(
          () => {
            const first = batchesOf(slow, name)[0];
            return (
              first?.status === "completed" && first.output_file_id != null && filesOf(first).length === 0
            );
          },
          30_000,
          "the first batch's input and output files to be deleted",
        );
        // the local request file went with them; the meta file stays while the source is read (a
        // resumed read rebuilds its tables from it)
        await waitFor(
          () => !fs.existsSync(shardFile(".jsonl")),
          5_000,
          "the first shard's request file to go",
        );
        expect(fs.existsSync(shardFile(".meta.jsonl"))).toBe(true);
        expect(readEnded).toBe(false);
      } finally {
        fs.writeFileSync(path.join(dir, "go"), "");
      }
      // the read ends: the meta file goes, before the run's end removes the run's folder
      await waitFor(
        () => !fs.existsSync(shardFile(".meta.jsonl")),
        10_000,
        "the first shard's meta file to go",
      );
      expect(readEnded).toBe(true);
      expect(cleanedUp).toBe(false);
      const run = await running;
      expect(run.code, run.stderr).toBe(0);
      expect(fs.readFileSync(path.join(dir, "go.seen"), "utf8")).toBe("go");
      expect(report(run)).toMatchObject({ read: 1200, succeeded: 1200, failed: 0, unaccounted: 0 });
      const batches = batchesOf(slow, name);
      expect(batches.length).toBeGreaterThanOrEqual(3);
      for (const batch of batches) expect(filesOf(batch)).toEqual([]);
      expect(run.events.find((e) => e.type === "cleaned_up")).toMatchObject({ shards: batches.length });
    } finally {
      await slow.close();
    }
  });

  it("with clean_up, SIGKILL once the read ended and a collected shard's meta file is gone, then run again: every id once, nothing sent twice", async () => {
    const name = "stream-clean-kill";
    const dir = tempDir();
    const slow = await startSlowEmulator();
    try {
      const spec = cleanUpPipeline(dir, name, slow);
      const meta = (seq: string) => runShardFile(dir, name, `${seq}.meta.jsonl`);
      // the read ends long before the batches (~1 s each): killed once a collected shard's meta file went
      const { seen } = await killedRun(
        dir,
        spec,
        (_, seen) => seen.some((e) => e.type === "shard_collected") && !fs.existsSync(meta("00001")),
      );
      expect(seen.some((e) => e.type === "planned")).toBe(true);
      const second = await resumedRun(dir, spec);
      expectEachRecordOnce(dir, second, 1200);
      const batches = batchesOf(slow, name);
      expect(batches.reduce((sum, b) => sum + b.request_counts.total, 0)).toBe(1200);
    } finally {
      await slow.close();
    }
  });

  it("a shard sealed while another shard is collected is submitted before that collection ends", async () => {
    const dir = tempDir();
    // the source holds after 600 records (the first shard, 500, is sealed by the 501st) until the
    // sink's first write; each of the 10 delivery parts of that shard then takes 200 ms more, while
    // the second shard is sealed
    const spec = slowPipeline(dir, {
      name: "stream-while-collecting",
      n: 1000,
      pauseMs: 0,
      holdAfter: 600,
      sinks: [
        `- { use: ${path.join(FIXTURES, "plugins/slow-commit-sink.ts")}, path: ./out/results.jsonl, commit_ms: 200, on_first_write: ./go }`,
      ],
    });
    const run = await batchpipe(["run", spec, "--json"], {
      cwd: dir,
      engine: { ...ENGINE, deliveryPartSize: 50 },
    });
    expect(run.code, run.stderr).toBe(0);
    expect(fs.readFileSync(path.join(dir, "go.seen"), "utf8")).toBe("go");
    const at = (type: string, shard: string) =>
      run.events.findIndex((e) => e.type === type && (e as { shard?: string }).shard === shard);
    expect(at("shard_submitted", "00002")).toBeGreaterThan(-1);
    expect(at("shard_submitted", "00002")).toBeLessThan(at("shard_collected", "00001"));
    expect(report(run)).toMatchObject({ read: 1000, succeeded: 1000, failed: 0 });
    expect(readJsonl(path.join(dir, "out/results.jsonl"))).toHaveLength(1000);
  });

  it("a request identical to one whose shard was already delivered in this run is answered from the cache, not sent again", async () => {
    const dir = tempDir();
    const name = "stream-identical-delivered";
    // records 2501..3000 repeat the requests of 1..500 (the first shard); the source holds after
    // 2500 records until that shard is collected (its results stored in the cache)
    const spec = slowPipeline(dir, { name, n: 3000, pauseMs: 0, holdAfter: 2500 });
    const run = await batchpipe(["run", spec, "--json"], {
      cwd: dir,
      engine: ENGINE,
      onEvent: (event) => {
        if (event.type === "shard_collected" && (event as { shard?: string }).shard === "00001") {
          fs.writeFileSync(path.join(dir, "go"), "");
        }
      },
    });
    expect(run.code, run.stderr).toBe(0);
    expect(fs.readFileSync(path.join(dir, "go.seen"), "utf8")).toBe("go");
    expect(report(run)).toMatchObject({ read: 3000, succeeded: 3000, failed: 0 });
    // each distinct request paid once
    expect(await submittedIds(name)).toHaveLength(2500);
  });

  it("a duplicate id after the first batch was created fails as one duplicate_id row; the run completes", async () => {
    const dir = tempDir();
    const spec = slowPipeline(dir, {
      name: "stream-dup",
      n: 3000,
      pauseMs: 1,
      holdAfter: 1500,
      id: (i) => (i === 2600 ? "s7" : `s${i}`),
    });
    const run = await runReleasingSource(dir, spec);
    expect(run.code, run.stderr).toBe(3);
    expect(fs.readFileSync(path.join(dir, "go.seen"), "utf8")).toBe("go");
    const errors = readJsonl<{ id: string; error: { code: string }; source: { line: number } }>(
      path.join(dir, "out/errors.jsonl"),
    );
    expect(errors.map((e) => [e.id, e.error.code, e.source.line])).toEqual([["s7", "duplicate_id", 2600]]);
    expect(report(run)).toMatchObject({ read: 3000, succeeded: 2999, failed: 1, unaccounted: 0 });
    const expected = Array.from({ length: 3000 }, (_, i) => `s${i + 1}`).filter((id) => id !== "s2600");
    expect(exactlyOnceInSinks(dir, expected)).toEqual(ONCE);
    const sent = await submittedIds("stream-dup");
    expect(new Set(sent).size).toBe(sent.length);
  });

  it("a source without a cursor, killed after shards were submitted: read again and skipped to the checkpoint; every id once, nothing sent twice", async () => {
    const name = "stream-no-cursor";
    const n = 6000;
    const dir = tempDir();
    const spec = slowPipeline(dir, { name, n, pauseMs: 40 });
    const plugin = path.join(dir, "plugins", "slow.ts");
    fs.writeFileSync(
      plugin,
      fs
        .readFileSync(plugin, "utf8")
        .replace('typeof checkpoint === "number" ? checkpoint : 0', "0")
        .replace(", cursor: i + 1 }", " }"),
    );
    const first = await killAtFirstBatch(dir, spec);
    expect(first.signal, first.stderr).toBe("SIGKILL");
    expect(batchesOf(emu, name).length).toBeGreaterThan(0);
    const second = await batchpipe(["run", spec, "--json"], { cwd: dir, engine: ENGINE, timeoutMs: 90_000 });
    expect(second.code, second.stderr).toBe(0);
    expect(second.events.filter((e) => e.type === "warning")).toMatchObject([
      {
        message: expect.stringMatching(/gives no cursor and shards were already submitted: it is read again/),
      },
    ]);
    expectEachRecordOnce(dir, second, n);
    const sent = await submittedIds(name);
    expect(new Set(sent).size).toBe(sent.length);
  }, 180_000);

  it("with max_cost set, submissions wait for the read's end (the whole estimate is checked first)", async () => {
    const dir = tempDir();
    const spec = slowPipeline(dir, { name: "stream-cost", n: 3000, pauseMs: 5 });
    fs.writeFileSync(spec, fs.readFileSync(spec, "utf8").replace("batch:\n", "batch:\n  max_cost: 100\n"));
    const run = await batchpipe(["run", spec, "--json"], { cwd: dir, engine: ENGINE });
    expect(run.code, run.stderr).toBe(0);
    expect(index(run.events, "planned")).toBeGreaterThan(-1);
    expect(index(run.events, "shard_submitted")).toBeGreaterThan(index(run.events, "planned"));
  });

  it("a spec changed after shards were submitted mid-read: refused (STATE_FAILED), nothing sent twice", async () => {
    const name = "stream-changed";
    const dir = tempDir();
    const spec = slowPipeline(dir, { name, n: 6000, pauseMs: 40 });
    const first = await killAtFirstBatch(dir, spec);
    expect(first.signal, first.stderr).toBe("SIGKILL");
    fs.writeFileSync(spec, fs.readFileSync(spec, "utf8").replace("Say: {{ text }}", "Repeat: {{ text }}"));
    const before = batchesOf(emu, name).length;
    const second = await batchpipe(["run", spec], { cwd: dir, engine: ENGINE });
    expect(second.code).toBe(1);
    expect(second.stderr).toContain("STATE_FAILED");
    expect(second.stderr).toContain("shards it made were already submitted");
    expect(batchesOf(emu, name).length).toBe(before);
  });

  const moments: [string, (event: CliEvent, seen: CliEvent[]) => boolean][] = [
    ["after the first batch is created while reading", (e) => e.type === "shard_submitted"],
    ["mid-read with 2 batches open", secondBatchCreated],
    ["at the read's end", (e) => e.type === "planned"],
    [
      "during delivery while reading",
      (e, seen) =>
        e.type === "progress" &&
        (e.snapshot as { done: number }).done > 0 &&
        !seen.some((s) => s.type === "planned"),
    ],
    ["after the read", (e, seen) => e.type === "shard_collected" && seen.some((s) => s.type === "planned")],
  ];

  it.each(moments)(
    "SIGKILL %s, then run again: every id once in each sink, nothing sent twice",
    async (moment, when) => {
      const name = `stream-kill-${moments.findIndex(([m]) => m === moment)}`;
      const n = 6000;
      const dir = tempDir();
      const spec = slowPipeline(dir, { name, n, pauseMs: 40 });
      const { seen } = await killedRun(dir, spec, when);
      // the overlapped moments came before the read's end
      if (!/read's end|after the read/.test(moment))
        expect(seen.some((e) => e.type === "planned")).toBe(false);
      const second = await resumedRun(dir, spec);
      expectEachRecordOnce(dir, second, n);
      // no request paid twice: each custom_id in one input file only
      const sent = await submittedIds(name);
      expect(new Set(sent).size).toBe(sent.length);
      expect(sent.length).toBeGreaterThanOrEqual(2500);
    },
    180_000,
  );

  it("without max_requests the first shards ramp up (6,250, then 12,500); SIGKILL as the second is created mid-read, then run again: the same shards, every id once, nothing sent twice", async () => {
    const name = "stream-ramp";
    const n = 20_000;
    const dir = tempDir();
    const spec = slowPipeline(dir, { name, n, pauseMs: 20, maxRequests: null, distinct: true });
    const { seen } = await killedRun(dir, spec, secondBatchCreated);
    expect(seen.some((e) => e.type === "planned")).toBe(false);
    const second = await resumedRun(dir, spec);
    expectEachRecordOnce(dir, second, n);
    expect(batchesOf(emu, name).map((b) => b.request_counts.total)).toEqual([6_250, 12_500, 1_250]);
    const sent = await submittedIds(name);
    expect(new Set(sent).size).toBe(n);
    expect(sent.length).toBe(n);
  }, 180_000);

  // SIGKILL while the read writes cached shards (requests answered from the result cache) beside
  // paid ones: a rerun of 3,000 cached records with 3,000 new ones between them
  const cachedMoments: [string, (event: CliEvent, seen: CliEvent[]) => boolean][] = [
    ["as the first paid batch is created", (e) => e.type === "shard_submitted"],
    [
      "as the first cached shard is delivered",
      (e) => e.type === "shard_collected" && e.status === "answered_from_cache",
    ],
    [
      "once a cached and a paid shard were delivered",
      (e, seen) =>
        e.type === "shard_collected" &&
        e.status !== "answered_from_cache" &&
        seen.some((s) => s.type === "shard_collected" && s.status === "answered_from_cache"),
    ],
  ];

  it.each(cachedMoments)(
    "a rerun with new records, SIGKILL mid-read %s, then run again: every id once in each sink, nothing paid twice",
    async (moment, when) => {
      const name = `stream-cached-kill-${cachedMoments.findIndex(([m]) => m === moment)}`;
      const dir = tempDir();
      const spec = slowPipeline(dir, { name, n: 0, pauseMs: 40 });
      const line = (id: string, text: string) => `${JSON.stringify({ id, text })}\n`;
      const old = Array.from({ length: 3000 }, (_, i) => line(`c${i + 1}`, `old ${i + 1}`));
      fs.writeFileSync(path.join(dir, "data.jsonl"), old.join(""));
      const first = await batchpipe(["run", spec, "--json"], { cwd: dir, engine: ENGINE });
      expect(first.code, first.stderr).toBe(0);
      const paidBefore = batchesOf(emu, name).length;

      // each old record, then a new one: a tenth repeat an old request (cached), the others 800
      // new requests, each about three times (identical requests)
      const newText = (i: number) =>
        i % 10 === 0 ? `old ${i}` : i % 10 === 5 ? `old ${Math.min(3000, i + 500)}` : `new ${i % 1000}`;
      fs.writeFileSync(
        path.join(dir, "data.jsonl"),
        old.map((l, i) => l + line(`n${i + 1}`, newText(i + 1))).join(""),
      );
      const reading = (seen: CliEvent[]) => !seen.some((e) => e.type === "planned");
      const { seen } = await killedRun(dir, spec, (e, seen) => reading(seen) && when(e, seen));
      expect(reading(seen)).toBe(true);
      // the read stopped with a cached shard and a paid one open (its last checkpoint says so)
      const db = new Database(path.join(dir, ".batchpipe", name, "state.db"), { readonly: true });
      const saved = db.prepare("SELECT value FROM kv WHERE key LIKE 'read-checkpoint:%'").pluck().get();
      db.close();
      const open = (
        JSON.parse(saved as string) as { writer: { open: { cached?: boolean; requests: number }[] } }
      ).writer.open;
      expect(open.some((s) => s.cached && s.requests > 0)).toBe(true);
      expect(open.some((s) => !s.cached && s.requests > 0)).toBe(true);

      const resumed = await resumedRun(dir, spec);
      expect((resumed.events[0] as { readFrom?: number }).readFrom).toBeGreaterThan(0);
      expect(report(resumed)).toMatchObject({ read: 6000, succeeded: 6000, failed: 0, unaccounted: 0 });
      // the old records and the new ones identical to them
      expect(report(resumed)!.cached as number).toBeGreaterThanOrEqual(3600);
      const ids = [
        ...Array.from({ length: 3000 }, (_, i) => `c${i + 1}`),
        ...Array.from({ length: 3000 }, (_, i) => `n${i + 1}`),
      ];
      expect(exactlyOnceInSinks(dir, ids)).toEqual(ONCE);

      // nothing paid twice: no custom_id in two input files, no shard submitted twice, and the
      // rerun sent none of the first run's requests, only new ones
      const sent = await submittedIds(name);
      expect(new Set(sent).size).toBe(sent.length);
      expect(duplicateSubmissions({ ...emu.state(), batches: batchesOf(emu, name) })).toEqual([]);
      const rerun = await submittedLines(name, paidBefore);
      expect(rerun.filter((l) => !l.custom_id.startsWith("n"))).toEqual([]);
      expect(rerun.filter((l) => !l.body.messages[0]!.content.startsWith("Say: new "))).toEqual([]);
      expect(new Set(rerun.map((l) => l.body.messages[0]!.content)).size).toBe(800);
    },
    180_000,
  );
});
