// The read phase resumes from its last checkpoint through the real CLI: a source plugin that throws
// mid-stream stops the run (exit 1, the hint says where reading resumes) and the next run hands it
// the recorded cursor; a `kill -9` while reading a 60,000-record jsonl source resumes from a
// checkpoint. Every record ends once in the sinks, every custom_id is submitted once, and the
// resumed read wrote what an uninterrupted read writes (shard files, fan-out rows, failure rows).
import fs from "node:fs";
import path from "node:path";
import type { Emulator } from "@batchpipe/openai-emulator";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  batchesOf,
  batchpipe,
  type ChildRun,
  idCounts,
  readJsonl,
  report,
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

const EVERY = 1000;
const ENGINE = { readCheckpointEvery: EVERY };

// a source beside the spec: JSON lines (a line that is not JSON is an invalid record); its cursor is
// the number of lines handled; it logs each checkpoint it is given and throws once after
// `fail_after` records while `fail_marker` exists (removing the marker)
const RESUMABLE_SOURCE = `
import fs from "node:fs";
import { defineSource, z } from "@batchpipe/core/plugin";

export default defineSource({
  name: "resumable",
  options: z.strictObject({
    path: z.string(),
    fail_marker: z.string(),
    fail_after: z.number().int(),
    log: z.string(),
  }),
  async *read({ options, resolvePath, checkpoint }) {
    fs.appendFileSync(resolvePath(options.log), JSON.stringify(checkpoint === undefined ? "undefined" : checkpoint) + "\\n");
    const lines = fs.readFileSync(resolvePath(options.path), "utf8").split("\\n").filter((l) => l !== "");
    const marker = resolvePath(options.fail_marker);
    for (let i = typeof checkpoint === "number" ? checkpoint : 0; i < lines.length; i++) {
      if (i === options.fail_after && fs.existsSync(marker)) {
        fs.rmSync(marker);
        throw new Error("connection reset at record " + (i + 1));
      }
      const position = { file: "data.jsonl", line: i + 1 };
      let data;
      try {
        data = JSON.parse(lines[i]);
      } catch {
        yield { invalid: { code: "invalid_input", message: "not JSON" }, position, cursor: i + 1 };
        continue;
      }
      yield { data, position, cursor: i + 1 };
    }
  },
});
`;

/** `count` lines: `{ id: "r<i>", text }` with texts repeating (identical requests), every 400th not JSON */
function dataset(count: number): { text: string; ids: string[] } {
  let text = "";
  const ids: string[] = [];
  for (let i = 1; i <= count; i++) {
    if (i % 400 === 0) {
      text += "not json\n";
      ids.push(`data.jsonl:${i}`);
      continue;
    }
    text += `${JSON.stringify({ id: `r${i}`, text: `hello ${i % 700}` })}\n`;
    ids.push(`r${i}`);
  }
  return { text, ids };
}

function sourcePipeline(dir: string, name: string, failAfter: number): string {
  fs.mkdirSync(path.join(dir, "plugins"), { recursive: true });
  fs.writeFileSync(path.join(dir, "plugins", "resumable.ts"), RESUMABLE_SOURCE);
  return writePipeline(dir, {
    baseUrl: emu.url,
    name,
    source: `  { use: ./plugins/resumable.ts, path: ./data.jsonl, fail_marker: ./broken, fail_after: ${failAfter}, log: ./given.jsonl }`,
    batch: { max_requests: 1000, clean_up: "false" },
  });
}

/** the custom_ids of every input file the emulator received for this pipeline, with repeats */
async function submittedIds(name: string): Promise<string[]> {
  const ids: string[] = [];
  for (const batch of batchesOf(emu, name)) {
    const res = await fetch(`${emu.url}/files/${batch.input_file_id}/content`, {
      headers: { authorization: "Bearer sk-test" },
    });
    expect(res.status).toBe(200);
    for (const line of (await res.text()).split("\n")) {
      if (line) ids.push((JSON.parse(line) as { custom_id: string }).custom_id);
    }
  }
  return ids;
}

function stateRow<T>(dir: string, name: string, sql: string): T[] {
  const db = new Database(path.join(dir, ".batchpipe", name, "state.db"), { readonly: true });
  try {
    return db.prepare(sql).all() as T[];
  } finally {
    db.close();
  }
}

/**
 * What the read phase of the one finished run wrote: each shard's row, request file and meta file,
 * the identical requests' fan-out rows, the failure rows of records that never became requests and
 * the totals. Paths are relative to the run's folder (its id differs between states).
 */
function readOutcome(dir: string, name: string): unknown {
  const stateDir = path.join(dir, ".batchpipe", name);
  const runs = stateRow<{ id: string; totals: string }>(
    dir,
    name,
    "SELECT id, totals FROM runs WHERE status = 'done'",
  );
  expect(runs).toHaveLength(1);
  const run = runs[0]!;
  const file = (p: string) => fs.readFileSync(path.join(stateDir, p), "utf8");
  const local = (p: string) => path.relative(run.id, p);
  const shards = stateRow<Record<string, string | number>>(
    dir,
    name,
    "SELECT name, seq, root, attempt, model, endpoint, file, meta_file, requests, bytes, tokens, output_tokens FROM shards ORDER BY seq",
  ).map((s) => ({
    ...s,
    file: local(s.file as string),
    meta_file: local(s.meta_file as string),
    requestLines: file(s.file as string),
    metaLines: file(s.meta_file as string),
  }));
  const fanout = stateRow(
    dir,
    name,
    "SELECT root, canonical, record_id, input, source FROM fanout ORDER BY record_id",
  );
  return {
    totals: JSON.parse(run.totals) as unknown,
    shards,
    fanout,
    failures: file(path.join(run.id, "prep-failures.jsonl")),
  };
}

/** ids over the result sink and the error sink: each expected id once, nothing else */
function expectEachIdOnce(dir: string, expected: string[], resultFiles = ["out/results.jsonl"]): void {
  for (const file of resultFiles) {
    const rows = [
      ...readJsonl<{ id: string }>(path.join(dir, file)),
      ...readJsonl<{ id: string }>(path.join(dir, "out/errors.jsonl")),
    ];
    const counts = idCounts(rows);
    expect([...counts].filter(([, n]) => n !== 1)).toEqual([]);
    expect([...counts.keys()].sort()).toEqual([...expected].sort());
  }
}

/** a read of 1,500 records the source stops after 1,200 (`prepare` runs first): its checkpoint covers 1,000 */
async function stoppedRead(name: string, prepare?: (dir: string) => void) {
  const { text, ids } = dataset(1500);
  const dir = tempDir();
  fs.writeFileSync(path.join(dir, "data.jsonl"), text);
  fs.writeFileSync(path.join(dir, "broken"), "");
  const spec = sourcePipeline(dir, name, 1200);
  prepare?.(dir);
  const first = await batchpipe(["run", spec], { cwd: dir, engine: ENGINE });
  expect(first.code, first.stderr).toBe(1);
  expect(first.stderr).toContain("reading resumes at record 1,001");
  return { dir, spec, ids };
}

const events = (run: ChildRun, type: string) => run.events.filter((e) => e.type === type);

describe("read phase resume", () => {
  it("a source that throws mid-stream: exit 1 with where reading resumes; the next run resumes from the recorded cursor", async () => {
    const name = "read-resume-source";
    const failAfter = 2345;
    const { text, ids } = dataset(2500);
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, "data.jsonl"), text);
    fs.writeFileSync(path.join(dir, "broken"), "");
    const spec = sourcePipeline(dir, name, failAfter);

    const first = await batchpipe(["run", spec], { cwd: dir, engine: ENGINE });
    expect(first.code, first.stderr).toBe(1);
    expect(first.stderr).toContain(
      "source (resumable) failed while reading: connection reset at record 2346",
    );
    expect(first.stderr).toContain("PLUGIN_FAILED");
    expect(first.stderr).toContain("Fix the source and run again; reading resumes at record 2,001");
    expect(batchesOf(emu, name)).toHaveLength(0);
    // the state is intact: the run is still reading, its checkpoint covers 2,000 records
    expect(stateRow<{ status: string }>(dir, name, "SELECT status FROM runs")).toEqual([
      { status: "reading" },
    ]);
    const [saved] = stateRow<{ value: string }>(
      dir,
      name,
      "SELECT value FROM kv WHERE key LIKE 'read-checkpoint:%'",
    );
    expect(JSON.parse(saved!.value)).toMatchObject({ read: 2000, source: { cursor: 2000 } });

    const second = await batchpipe(["run", spec, "--json"], { cwd: dir, engine: ENGINE });
    // 3: finished, the 6 invalid lines are failure rows
    expect(second.code, second.stderr).toBe(3);
    expect(second.events[0]).toMatchObject({ type: "run_started", resumed: true, readFrom: 2000 });
    const given = readJsonl<number | string>(path.join(dir, "given.jsonl"));
    expect(given[0]).toBe("undefined");
    expect(given).toHaveLength(2);
    expect(typeof given[1]).toBe("number");
    expect(given[1] as number).toBeGreaterThanOrEqual(Math.floor(failAfter / EVERY) * EVERY);
    expect(given[1] as number).toBeLessThanOrEqual(failAfter);
    const planned = events(second, "planned")[0] as { totals: Record<string, number> };
    expect(planned.totals).toMatchObject({
      read: 2500,
      invalid: 6,
      requests: 700,
      identical: 2500 - 6 - 700,
    });
    expect(report(second)).toMatchObject({ read: 2500, succeeded: 2494, failed: 6, unaccounted: 0 });
    expectEachIdOnce(dir, ids);
    const submitted = await submittedIds(name);
    expect(submitted).toHaveLength(700);
    expect([...idCounts(submitted.map((id) => ({ id })))].filter(([, n]) => n !== 1)).toEqual([]);

    // the same data read without interruption (another state) gives the same shards, byte for byte,
    // the same identical requests pointing at the same requests, and the same failure rows
    const other = tempDir();
    fs.writeFileSync(path.join(other, "data.jsonl"), text);
    const otherSpec = sourcePipeline(other, name, failAfter);
    const plain = await batchpipe(["run", otherSpec, "--json"], { cwd: other, engine: ENGINE });
    expect(plain.code, plain.stderr).toBe(3);
    expect(plain.events[0]).not.toHaveProperty("readFrom");
    const resumed = readOutcome(dir, name) as { shards: unknown[]; fanout: unknown[] };
    expect(resumed.shards).toHaveLength(1);
    expect(resumed.fanout).toHaveLength(2500 - 6 - 700);
    expect(readOutcome(other, name)).toEqual(resumed);
  });

  // issue 17 (streaming submission): duplicates fail their records as duplicate_id instead of
  // refusing the run; the ids known before the checkpoint still make them duplicates
  it("ids read before the checkpoint are known after it: duplicates of a sent, an identical and a too-large request fail as duplicate_id in the resumed run", async () => {
    const name = "read-resume-dup";
    const lines = dataset(2500).text.split("\n");
    const line = (id: string, text: string) => JSON.stringify({ id, text });
    lines[9] = line("r10", "x".repeat(5000)); // over max_bytes: a request_too_large failure
    lines[2299] = line("r3", "again"); // r3 was sent
    lines[2309] = line("r703", "again"); // r703 was identical to r3 (fanned out)
    lines[2319] = line("r10", "again");
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, "data.jsonl"), lines.join("\n"));
    fs.writeFileSync(path.join(dir, "broken"), "");
    const spec = sourcePipeline(dir, name, 2100);
    fs.writeFileSync(spec, fs.readFileSync(spec, "utf8").replace("batch:\n", "batch:\n  max_bytes: 4KB\n"));
    const first = await batchpipe(["run", spec], { cwd: dir, engine: ENGINE });
    expect(first.code, first.stderr).toBe(1);
    // the last committed checkpoint: the one at 2,000 records, or one a shard sealed after it
    // (4 KB shards seal every few records, and each seal is checkpointed at once)
    const resumesAt = Number(/reading resumes at record ([\d,]+)/.exec(first.stderr)?.[1]?.replace(",", ""));
    expect(resumesAt).toBeGreaterThanOrEqual(2001);
    expect(resumesAt).toBeLessThanOrEqual(2101);

    const second = await batchpipe(["run", spec], { cwd: dir, engine: ENGINE });
    expect(second.code, second.stderr).toBe(3);
    const duplicates = readJsonl<{ id: string; error: { code: string }; source: { line: number } }>(
      path.join(dir, "out/errors.jsonl"),
    ).filter((e) => e.error.code === "duplicate_id");
    expect(duplicates.map((e) => [e.id, e.source.line])).toEqual([
      ["r3", 2300],
      ["r703", 2310],
      ["r10", 2320],
    ]);
    const submitted = await submittedIds(name);
    expect(new Set(submitted).size).toBe(submitted.length);
  });

  it("a spec changed since the read stopped: the read starts over (a warning), every record once", async () => {
    const { dir, spec, ids } = await stoppedRead("read-resume-changed");

    fs.writeFileSync(spec, fs.readFileSync(spec, "utf8").replace("Say: {{ text }}", "Repeat: {{ text }}"));
    const second = await batchpipe(["run", spec, "--json"], { cwd: dir, engine: ENGINE });
    expect(second.code, second.stderr).toBe(3);
    expect(second.events[0]).toMatchObject({ type: "run_started", resumed: true });
    expect(second.events[0]).not.toHaveProperty("readFrom");
    expect(events(second, "warning")).toMatchObject([
      { message: expect.stringContaining("changed since the read was interrupted; reading starts over") },
    ]);
    expect(readJsonl(path.join(dir, "given.jsonl"))).toEqual(["undefined", "undefined"]);
    expect(report(second)).toMatchObject({ read: 1500, failed: 3, unaccounted: 0 });
    expectEachIdOnce(dir, ids);
  });

  // the read's checkpoint covers only what shapes the read (source, transform, limits): an edit of
  // the sinks went on silently before, with the rows before the stop in one form and after in another
  it("a read resumed from its checkpoint after its sinks were edited says so; the read still resumes", async () => {
    const { dir, spec, ids } = await stoppedRead("read-resume-sinks-changed");

    fs.writeFileSync(
      spec,
      fs.readFileSync(spec, "utf8").replace("fields: all", "fields: [id, status, output]"),
    );
    const second = await batchpipe(["run", spec, "--json"], { cwd: dir, engine: ENGINE });
    expect(second.code, second.stderr).toBe(3);
    expect(second.events[0]).toMatchObject({ type: "run_started", resumed: true, readFrom: 1000 });
    expect(events(second, "warning")).toMatchObject([
      { message: expect.stringMatching(/^the spec's sinks changed since run r1-\S+ began: it resumes/) },
    ]);
    expect(report(second)).toMatchObject({ read: 1500, failed: 3, unaccounted: 0 });
    expectEachIdOnce(dir, ids);
  });

  // issue 17: the dataset fingerprint is gone; a state folder written before (schema version 2, a
  // runs.fingerprint column, the datasets table, a read checkpoint holding the chain) resumes, and
  // is marked version 3 (what new state folders are) so that a build from before refuses it; only a
  // run marks it, not `status` or `runs`
  it("a state folder from before the fingerprint's removal resumes its read, every record once", async () => {
    const name = "read-resume-old-state";
    const { dir, spec, ids } = await stoppedRead(name);

    // what the earlier build left: the column in runs and the chain in the checkpoint
    const db = new Database(path.join(dir, ".batchpipe", name, "state.db"));
    expect(db.prepare("SELECT name FROM pragma_table_info('runs')").pluck().all()).not.toContain(
      "fingerprint",
    );
    expect(db.prepare("SELECT value FROM meta WHERE key = 'schema_version'").pluck().get()).toBe("3");
    db.exec("ALTER TABLE runs ADD COLUMN fingerprint TEXT");
    db.exec(
      "CREATE TABLE datasets (fingerprint TEXT PRIMARY KEY, run_id TEXT NOT NULL, completed_at INTEGER NOT NULL)",
    );
    db.exec("UPDATE meta SET value = '2' WHERE key = 'schema_version'");
    const saved = db.prepare("SELECT key, value FROM kv WHERE key LIKE 'read-checkpoint:%'").get() as {
      key: string;
      value: string;
    };
    const old = { ...(JSON.parse(saved.value) as object), fingerprint: "ab".repeat(32) };
    db.prepare("UPDATE kv SET value = ? WHERE key = ?").run(JSON.stringify(old), saved.key);
    db.close();

    // a look at it (status, runs) leaves it at 2: the build that wrote it can still finish the run
    const status = await batchpipe(["status", spec, "--json"], { cwd: dir, engine: ENGINE });
    expect(status.code, status.stderr).toBe(0);
    expect(JSON.parse(status.stdout).run).toMatchObject({ status: "stopped" });
    const runs = await batchpipe(["runs", spec, "--json"], { cwd: dir, engine: ENGINE });
    expect(runs.code, runs.stderr).toBe(0);
    expect(stateRow(dir, name, "SELECT value FROM meta WHERE key = 'schema_version'")).toEqual([
      { value: "2" },
    ]);

    const second = await batchpipe(["run", spec, "--json"], { cwd: dir, engine: ENGINE });
    expect(second.code, second.stderr).toBe(3);
    expect(second.events[0]).toMatchObject({ type: "run_started", resumed: true, readFrom: 1000 });
    expect(events(second, "warning")).toEqual([]);
    expect(report(second)).toMatchObject({ read: 1500, failed: 3, unaccounted: 0 });
    expectEachIdOnce(dir, ids);
    expect(stateRow(dir, name, "SELECT value FROM meta WHERE key = 'schema_version'")).toEqual([
      { value: "3" },
    ]);
  });

  it("a source that ignores its checkpoint (yields its first record again) is read from the start, every record once", async () => {
    const name = "read-resume-ignored";
    const { dir, spec, ids } = await stoppedRead(name, (dir) => {
      // the same source, deaf to `checkpoint`
      const plugin = path.join(dir, "plugins", "resumable.ts");
      fs.writeFileSync(
        plugin,
        fs.readFileSync(plugin, "utf8").replace('typeof checkpoint === "number" ? checkpoint : 0', "0"),
      );
    });

    const second = await batchpipe(["run", spec, "--json"], { cwd: dir, engine: ENGINE });
    expect(second.code, second.stderr).toBe(3);
    expect(second.events[0]).toMatchObject({ type: "run_started", resumed: true, readFrom: 1000 });
    expect(events(second, "warning")).toMatchObject([
      {
        message:
          "source (resumable) yielded its first record again instead of resuming after record 1,000; reading starts over",
      },
    ]);
    expect(report(second)).toMatchObject({ read: 1500, failed: 3, unaccounted: 0 });
    expectEachIdOnce(dir, ids);
    const submitted = await submittedIds(name);
    expect(new Set(submitted).size).toBe(submitted.length);
  });

  // issue 17: shards are submitted while reading, and the dataset skip is gone (the result cache
  // replaces it): the kill may come after submissions, and an identical request whose root was
  // already being collected is sent once more (fanout-gate.ts), so the count of sent requests varies
  it("kill -9 while reading 60,000 records: the next run resumes from a checkpoint; each id once, each custom_id submitted once", async () => {
    const name = "read-resume-kill";
    const n = 60_000;
    const dir = tempDir();
    let lines = "";
    for (let i = 1; i <= n; i++) lines += `${JSON.stringify({ id: `k${i}`, text: `review ${i % 9000}` })}\n`;
    fs.writeFileSync(path.join(dir, "data.jsonl"), lines);
    const spec = writePipeline(dir, {
      baseUrl: emu.url,
      name,
      // 9,000 distinct requests in 5 shards: 4 are sealed before the first 20,000 records are read
      batch: { max_requests: 2000, clean_up: "false" },
      sinks: [
        "- { use: jsonl, path: ./out/results.jsonl }",
        "- { use: sqlite, path: ./out/results.db, table: results }",
      ],
    });

    const first = await batchpipe(["run", spec, "--json"], {
      cwd: dir,
      engine: ENGINE,
      onEvent: (event, child) => {
        if (event.type === "read_progress" && (event.records as number) >= 20_000) child.kill("SIGKILL");
      },
    });
    expect(first.signal).toBe("SIGKILL");
    // killed while reading: not planned yet
    expect(events(first, "planned")).toEqual([]);

    const second = await batchpipe(["run", spec, "--json"], { cwd: dir, engine: ENGINE, timeoutMs: 90_000 });
    expect(second.code, second.stderr).toBe(0);
    const started = second.events[0] as { type: string; resumed: boolean; readFrom?: number };
    expect(started).toMatchObject({ type: "run_started", resumed: true });
    // checkpoints commit once their files are synced: the one before the 20,000 mark is in
    expect(started.readFrom).toBeGreaterThanOrEqual(20_000 - EVERY);
    expect(started.readFrom).toBeLessThan(n);
    // (not a multiple of EVERY: each shard's seal is checkpointed at once, wherever it falls)
    // progress goes on from the checkpoint, not from 0
    expect(events(second, "read_progress")[0]).toMatchObject({
      records: Math.ceil((started.readFrom! + 1) / 10_000) * 10_000,
    });
    expect(report(second)).toMatchObject({
      read: n,
      succeeded: n,
      failed: 0,
      unaccounted: 0,
    });

    const expected = Array.from({ length: n }, (_, i) => `k${i + 1}`);
    expectEachIdOnce(dir, expected);
    const db = new Database(path.join(dir, "out/results.db"), { readonly: true });
    const sqliteIds = (db.prepare("SELECT id FROM results").all() as { id: string }[]).map((r) => r.id);
    db.close();
    expect(sqliteIds).toHaveLength(n);
    expect(new Set(sqliteIds).size).toBe(n);
    const submitted = await submittedIds(name);
    // with overlap, an identical request found after its root's collection began is sent again
    expect(submitted.length).toBeGreaterThanOrEqual(9000);
    expect(new Set(submitted).size).toBe(submitted.length);
    // every record was sent, fanned out from an identical request, or (identical to a request
    // whose collection had begun) answered from the result cache
    const { identical, cachedRequests } = report(second) as { identical: number; cachedRequests: number };
    expect(submitted.length + identical + cachedRequests).toBe(n);

    // an uninterrupted read of the same data (default checkpoint interval): every request is
    // answered from the result cache, nothing is sent again, every record delivered again
    const third = await batchpipe(["run", spec, "--json"], { cwd: dir });
    expect(third.code, third.stderr).toBe(0);
    expect(report(third)).toMatchObject({ read: n, succeeded: n, cached: n, cost: 0 });
    expect(await submittedIds(name)).toHaveLength(submitted.length);
    expectEachIdOnce(dir, expected);
  }, 180_000);

  // past 131,072 keys the read's id and request tables go to files of the run's (engine/read/
  // spilled-table.ts); a resumed read drops those and rebuilds its tables from the meta files
  it("kill -9 after the read's tables went to disk: the resumed read still finds a duplicate of an id read before the kill", async () => {
    const name = "read-resume-spilled";
    // the kill comes at 140,000: 60,000 records later the read is surely not over
    const n = 200_000;
    const dir = tempDir();
    const fd = fs.openSync(path.join(dir, "data.jsonl"), "w");
    for (let from = 1; from <= n; from += 10_000) {
      let lines = "";
      for (let i = from; i < from + 10_000; i++) {
        // record 199,000 takes record 7's id, read before the kill and before the first spill
        const id = i === 199_000 ? "k7" : `k${i}`;
        lines += `${JSON.stringify({ id, text: `review ${i}` })}\n`;
      }
      fs.writeSync(fd, lines);
    }
    fs.closeSync(fd);
    const spec = writePipeline(dir, { baseUrl: emu.url, name, batch: { clean_up: "false" } });

    const first = await batchpipe(["run", spec, "--json"], {
      cwd: dir,
      onEvent: (event, child) => {
        if (event.type === "read_progress" && (event.records as number) >= 140_000) child.kill("SIGKILL");
      },
    });
    expect(first.signal).toBe("SIGKILL");

    const second = await batchpipe(["run", spec, "--json"], { cwd: dir, timeoutMs: 120_000 });
    expect(second.code, second.stderr).toBe(3);
    const started = second.events[0] as { type: string; resumed: boolean; readFrom?: number };
    expect(started).toMatchObject({ type: "run_started", resumed: true });
    expect(started.readFrom).toBeGreaterThan(131_072);
    expect(report(second)).toMatchObject({
      read: n,
      succeeded: n - 1,
      failed: 1,
      failedByCode: { duplicate_id: 1 },
      unaccounted: 0,
    });
    const results = idCounts(readJsonl<{ id: string }>(path.join(dir, "out/results.jsonl")));
    expect([...results].filter(([, count]) => count !== 1)).toEqual([]);
    expect(results.size).toBe(n - 1);
    expect(results.has("k199000")).toBe(false);
    const errors = readJsonl<{ id: string; error: { code: string } }>(path.join(dir, "out/errors.jsonl"));
    expect(errors.map((e) => [e.id, e.error.code])).toEqual([["k7", "duplicate_id"]]);
    // each custom_id submitted once over both runs
    const submitted = await submittedIds(name);
    expect(submitted).toHaveLength(n - 1);
    expect(new Set(submitted).size).toBe(n - 1);
  }, 240_000);
});
