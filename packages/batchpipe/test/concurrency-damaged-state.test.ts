// A damaged state folder: files of it cut short or written over between two runs say so (where,
// what to do) before anything is paid, instead of losing records or blaming permissions.
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  batchpipe,
  type EmulatorProcess,
  readJsonl,
  report,
  startEmulatorProcess,
  tempDir,
  writeDataset,
  writePipeline,
} from "./support/harness.js";

describe("a damaged state folder (emulator in its own process)", () => {
  let emulator: EmulatorProcess;
  beforeAll(async () => {
    emulator = await startEmulatorProcess();
  });
  afterAll(async () => {
    await emulator?.close();
  });

  const batchesOf = async (name: string) =>
    (await emulator.state()).batches.filter((b) => b.metadata?.batchpipe_name === name).length;

  it("a shard file cut short before its submission stops the run (nothing sent for it); cancel, run, run again delivers every record", async () => {
    const dir = tempDir("bp-cut-shard-");
    writeDataset(dir, 90);
    // max_cost below the estimate: the read is kept, nothing is submitted
    const spec = (maxCost: number) =>
      writePipeline(dir, {
        baseUrl: emulator.url,
        name: "cut-shard",
        maxTokens: 20,
        batch: { max_requests: 30, max_cost: maxCost },
      });
    spec(0.000001);
    const held = await batchpipe(["run", "pipeline.yaml"], { cwd: dir });
    expect(held.code).toBe(1);
    expect(held.stderr).toContain("(BUDGET_EXCEEDED)");
    const runDir = fs.readdirSync(path.join(dir, ".batchpipe/cut-shard")).find((f) => f.startsWith("r1-"))!;
    const shard = path.join(dir, ".batchpipe/cut-shard", runDir, "shards/00002.jsonl");
    const bytes = fs.statSync(shard).size;
    // the second shard cut in the middle of a line (a full disk, a restored backup)
    fs.truncateSync(shard, Math.floor(bytes / 2));

    spec(1);
    const cut = await batchpipe(["run", "pipeline.yaml"], { cwd: dir });
    // before the fix: exit 0, "every request succeeded", and 15 of the 90 records in no sink (unaccounted 15)
    expect(cut.code).toBe(1);
    const error = cut.stderr.slice(cut.stderr.indexOf("✖"));
    expect(
      error.replace(runDir, "<run>").replace(/[\d,]+ bytes, but [\d,]+/, "N bytes, but M"),
    ).toMatchInlineSnapshot(`
      "✖ the shard file .batchpipe/cut-shard/<run>/shards/00002.jsonl has N bytes, but M were written when its 30 requests were read: it was cut short or changed outside batchpipe, and submitting it would lose or garble requests (STATE_FAILED)
        hint: Restore the state folder from a backup, or give this run up: \`batchpipe cancel <spec>\` and run it (its requests not sent fail as batch_cancelled), then run again to send them (what succeeded is answered from the result cache).
      "
    `);
    // status repeats the hint the run stopped on, as the CLI prints it (no note for library callers)
    const status = await batchpipe(["status", "pipeline.yaml"], { cwd: dir });
    expect(status.stdout).toContain(
      "  hint: Restore the state folder from a backup, or give this run up: `batchpipe cancel <spec>` and run it",
    );
    // the first shard may have gone before the damaged one was reached; never the damaged one
    const sent = await batchesOf("cut-shard");
    expect(sent).toBeLessThanOrEqual(1);

    const cancelled = await batchpipe(["cancel", "pipeline.yaml"], { cwd: dir });
    expect(cancelled.code, cancelled.stderr).toBe(0);
    const ended = await batchpipe(["run", "pipeline.yaml", "--json"], { cwd: dir });
    expect(ended.code, ended.stderr).toBe(3);
    expect(report(ended)).toMatchObject({ read: 90, failedByCode: { batch_cancelled: 60 }, unaccounted: 0 });
    const again = await batchpipe(["run", "pipeline.yaml", "--json"], { cwd: dir });
    expect(again.code, again.stderr).toBe(0);
    expect(report(again)).toMatchObject({ read: 90, succeeded: 90, failed: 0, unaccounted: 0 });
    const ids = readJsonl<{ id: string }>(path.join(dir, "out/results.jsonl")).map((r) => r.id);
    expect(new Set(ids).size).toBe(90);
    expect(ids).toHaveLength(90);
  }, 120_000);

  it("a state.db cut short says it is damaged and what to do (it blamed the folder's permissions, without the cause)", async () => {
    const dir = tempDir("bp-cut-state-");
    writeDataset(dir, 40);
    writePipeline(dir, { baseUrl: emulator.url, name: "cut-state", batch: { max_requests: 10 } });
    const first = await batchpipe(["run", "pipeline.yaml"], { cwd: dir });
    expect(first.code, first.stderr).toBe(0);
    const stateDb = path.join(dir, ".batchpipe/cut-state/state.db");
    // cut in the middle of its pages (a full disk, a copy taken while a run wrote it)
    fs.truncateSync(stateDb, Math.floor(fs.statSync(stateDb).size / 2));
    for (const command of ["run", "status", "runs", "cancel"]) {
      const refused = await batchpipe([command, "pipeline.yaml"], { cwd: dir });
      expect({ command, code: refused.code }).toEqual({ command, code: 1 });
      expect(refused.stderr).toMatchInlineSnapshot(`
        "✖ the state database .batchpipe/cut-state/state.db is damaged: database disk image is malformed (STATE_FAILED)
          hint: It was cut short or written over (a full disk, a copy taken while a run wrote it). Restore the state folder from a backup. Without one, move the file aside and run again: batches this pipeline has at the provider then stop the run with STATE_LOST, and \`--force\` sends again what the result cache does not answer.
        "
      `);
    }
    expect(await batchesOf("cut-state")).toBe(4);
  }, 120_000);

  it("a shard meta file cut short stops the run at its collection (it retried without end); state.db aside and --force finish it", async () => {
    const dir = tempDir("bp-cut-meta-");
    writeDataset(dir, 90);
    const spec = (maxCost: number) =>
      writePipeline(dir, {
        baseUrl: emulator.url,
        name: "cut-meta",
        maxTokens: 20,
        batch: { max_requests: 30, max_cost: maxCost },
      });
    spec(0.000001);
    const held = await batchpipe(["run", "pipeline.yaml"], { cwd: dir });
    expect(held.stderr).toContain("(BUDGET_EXCEEDED)");
    const stateDir = path.join(dir, ".batchpipe/cut-meta");
    const runDir = fs.readdirSync(stateDir).find((f) => f.startsWith("r1-"))!;
    const meta = path.join(stateDir, runDir, "shards/00002.meta.jsonl");
    fs.truncateSync(meta, Math.floor(fs.statSync(meta).size / 2));

    spec(1);
    // before the fix: "could not read the results of batch …; retrying" every few seconds, for ever
    const cut = await batchpipe(["run", "pipeline.yaml"], { cwd: dir, timeoutMs: 90_000 });
    expect(cut.code).toBe(1);
    const error = cut.stderr.slice(cut.stderr.indexOf("✖"));
    expect(
      error
        .replace(runDir, "<run>")
        .replace(/line \d+\) is damaged, not JSON \(.*\):/, "line N) is damaged, not JSON (…):"),
    ).toMatchInlineSnapshot(`
      "✖ a shard meta line (.batchpipe/cut-meta/<run>/shards/00002.meta.jsonl line N) is damaged, not JSON (…): the state folder was cut short or changed outside batchpipe (STATE_FAILED)
        hint: Restore the state folder from a backup. Without one, start over: move its state.db aside (the result cache, cache.db, stays) and run with --force: requests that succeeded are answered from the result cache, the others are sent again.
      "
    `);

    // what its hint says: state.db aside (the result cache stays), then --force
    fs.renameSync(path.join(stateDir, "state.db"), path.join(dir, "state.db.damaged"));
    for (const f of ["state.db-wal", "state.db-shm"]) fs.rmSync(path.join(stateDir, f), { force: true });
    const forced = await batchpipe(["run", "pipeline.yaml", "--force", "--json"], { cwd: dir });
    expect(forced.code, forced.stderr).toBe(0);
    expect(report(forced)).toMatchObject({ read: 90, succeeded: 90, failed: 0, unaccounted: 0 });
    expect((report(forced) as { cached: number }).cached).toBeGreaterThan(0);
    const ids = readJsonl<{ id: string }>(path.join(dir, "out/results.jsonl")).map((r) => r.id);
    expect(ids).toHaveLength(90);
    expect(new Set(ids).size).toBe(90);
  }, 180_000);

  it("records that end neither succeeded nor failed (a meta file cut at a line's end) are not reported as a completed run", async () => {
    const dir = tempDir("bp-cut-meta-line-");
    writeDataset(dir, 90);
    const spec = (maxCost: number) =>
      writePipeline(dir, {
        baseUrl: emulator.url,
        name: "cut-meta-line",
        maxTokens: 20,
        batch: { max_requests: 30, max_cost: maxCost },
      });
    spec(0.000001);
    const held = await batchpipe(["run", "pipeline.yaml"], { cwd: dir });
    expect(held.stderr).toContain("(BUDGET_EXCEEDED)");
    const stateDir = path.join(dir, ".batchpipe/cut-meta-line");
    const runDir = fs.readdirSync(stateDir).find((f) => f.startsWith("r1-"))!;
    const meta = path.join(stateDir, runDir, "shards/00002.meta.jsonl");
    // the last 10 lines gone, cut where a line ends: every line left parses
    const lines = fs.readFileSync(meta, "utf8").split("\n").filter(Boolean);
    fs.writeFileSync(meta, `${lines.slice(0, -10).join("\n")}\n`);

    spec(1);
    const cut = await batchpipe(["run", "pipeline.yaml"], { cwd: dir });
    // before: exit 0, "completed: every request succeeded", and 10 records in no sink (unaccounted 10)
    expect(cut.code).toBe(3);
    expect(cut.stdout.split("\n")[0]!.replace(/r1-\w+/, "<run>")).toMatchInlineSnapshot(
      `"⚠ run <run> finished with 10 records in no sink (neither succeeded nor failed): run again to send them (what succeeded is answered from the result cache)"`,
    );
    expect(cut.stdout).toMatch(/^ {2}unaccounted +10$/m);
    // what the head line tells: run again; the next run sends the 10 and answers the rest from the cache
    const again = await batchpipe(["run", "pipeline.yaml"], { cwd: dir });
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain("completed: every request succeeded");
    const ids = readJsonl<{ id: string }>(path.join(dir, "out/results.jsonl")).map((r) => r.id);
    expect(new Set(ids).size).toBe(90);
  }, 120_000);
});
