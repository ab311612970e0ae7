// The state folder: a lost or emptied state.db never silently pays again (STATE_LOST unless
// --force), and the folder is 0700, its files 0600 (shard files hold full prompts).
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  batchpipe,
  type EmulatorProcess,
  readJsonl,
  startEmulatorProcess,
  tempDir,
  writeDataset,
  writePipeline,
} from "./support/harness.js";

describe("the state folder (emulator in its own process)", () => {
  let emulator: EmulatorProcess;
  beforeAll(async () => {
    emulator = await startEmulatorProcess();
  });
  afterAll(async () => {
    await emulator?.close();
  });

  const batchesOf = async (name: string) =>
    (await emulator.state()).batches.filter((b) => b.metadata?.batchpipe_name === name).length;

  it("a lost or emptied state.db is refused with STATE_LOST (nothing submitted); --force submits again", async () => {
    const dir = tempDir("bp-lost-state-");
    writeDataset(dir, 30);
    writePipeline(dir, { baseUrl: emulator.url, name: "lost-state", batch: { max_requests: 10 } });
    const first = await batchpipe(["run", "pipeline.yaml", "--json"], { cwd: dir });
    expect(first.code).toBe(0);
    expect(await batchesOf("lost-state")).toBe(3);
    const stateDir = path.join(dir, ".batchpipe/lost-state");

    // state.db emptied (a 0-byte file), then the whole folder lost
    fs.writeFileSync(path.join(stateDir, "state.db"), "");
    for (const f of ["state.db-wal", "state.db-shm"]) fs.rmSync(path.join(stateDir, f), { force: true });
    const emptied = await batchpipe(["run", "pipeline.yaml"], { cwd: dir });
    expect(emptied.code).toBe(1);
    expect(emptied.stderr).toContain("(STATE_LOST)");
    expect(emptied.stderr).toMatch(/the provider has 3 batch\(es\) of pipeline "lost-state"/);
    expect(emptied.stderr).toContain("--force");
    fs.rmSync(stateDir, { recursive: true });
    const lost = await batchpipe(["run", "pipeline.yaml", "--json"], { cwd: dir });
    expect(lost.code).toBe(1);
    expect(lost.stderr).toContain("(STATE_LOST)");
    expect(await batchesOf("lost-state")).toBe(3);
    expect(readJsonl(path.join(dir, "out/results.jsonl"))).toHaveLength(30);

    const forced = await batchpipe(["run", "pipeline.yaml", "--force"], { cwd: dir });
    expect(forced.code).toBe(0);
    expect(await batchesOf("lost-state")).toBe(6);
    // with its state back, the next run is not refused (it is answered from the result cache)
    const again = await batchpipe(["run", "pipeline.yaml"], { cwd: dir });
    expect(again.code).toBe(0);
    expect(again.stderr).not.toContain("STATE_LOST");
  }, 120_000);

  it("a state folder belongs to one pipeline: another pipeline given it is refused before it reads or sends", async () => {
    const one = tempDir("bp-owner-one-");
    const two = tempDir("bp-owner-two-");
    const shared = path.join(one, "shared-state");
    writeDataset(one, 20);
    writeDataset(two, 20);
    writePipeline(one, { baseUrl: emulator.url, name: "owner-one" });
    writePipeline(two, { baseUrl: emulator.url, name: "owner-two", prompt: "Two: {{ text }}" });
    const first = await batchpipe(["run", "pipeline.yaml", "--state-dir", shared], { cwd: one });
    expect(first.code, first.stderr).toBe(0);
    expect(fs.readFileSync(path.join(shared, "pipeline"), "utf8")).toBe("owner-one\n");

    // before the fix, `run` resumed or answered owner-one's run and cache as its own
    for (const command of ["run", "plan", "status", "runs", "cache", "cancel", "stop"]) {
      const refused = await batchpipe([command, "pipeline.yaml", "--state-dir", shared], { cwd: two });
      expect({ command, code: refused.code }).toEqual({ command, code: 1 });
      expect(refused.stderr).toContain('belongs to the pipeline "owner-one", not "owner-two" (STATE_FAILED)');
    }
    expect(await batchesOf("owner-two")).toBe(0);
    expect(fs.existsSync(path.join(two, "out/results.jsonl"))).toBe(false);
    // its own pipeline still runs there (answered from its cache)
    const again = await batchpipe(["run", "pipeline.yaml", "--state-dir", shared], { cwd: one });
    expect(again.code, again.stderr).toBe(0);
  }, 120_000);

  it("a run resumed after its spec was edited says what changed (it went on silently with a mix)", async () => {
    const dir = tempDir("bp-spec-changed-");
    writeDataset(dir, 30);
    writePipeline(dir, { baseUrl: emulator.url, name: "spec-changed", batch: { max_requests: 10 } });
    // killed once its read has ended (planned) and a batch is out: a read that resumes checks
    // the spec itself (read-resume.test.ts)
    const seen = new Set<string>();
    const killed = await batchpipe(["run", "pipeline.yaml", "--json"], {
      cwd: dir,
      onEvent: (event, child) => {
        seen.add(event.type);
        if (seen.has("planned") && seen.has("shard_submitted")) child.kill("SIGKILL");
      },
    });
    expect(killed.signal).toBe("SIGKILL");
    // plan shows a new run's work; it says that `run` would resume this one instead
    const plan = await batchpipe(["plan", "pipeline.yaml"], { cwd: dir });
    expect(plan.stdout).toMatch(/⚠ run r1-\S+ is unfinished: `run` resumes it/);
    writePipeline(dir, {
      baseUrl: emulator.url,
      name: "spec-changed",
      batch: { max_requests: 10 },
      prompt: "Now say: {{ text }}",
    });
    const resumed = await batchpipe(["run", "pipeline.yaml", "--json"], { cwd: dir });
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.events.find((e) => e.type === "run_started")).toMatchObject({ resumed: true });
    const warnings = resumed.events.filter((e) => e.type === "warning").map((e) => e.message);
    expect(warnings).toEqual([
      expect.stringMatching(/^the spec's transform changed since run r1-\S+ began: it resumes/),
    ]);
    // a new run of the edited spec has nothing to say about it
    const again = await batchpipe(["run", "pipeline.yaml", "--json"], { cwd: dir });
    expect(again.events.filter((e) => e.type === "warning")).toEqual([]);
  }, 120_000);

  it("another folder running a pipeline of the same name is not refused, but said (it may be this one's state elsewhere)", async () => {
    const a = tempDir("bp-same-name-a-");
    const b = tempDir("bp-same-name-b-");
    for (const dir of [a, b]) {
      writeDataset(dir, 5);
      writePipeline(dir, { baseUrl: emulator.url, name: "same-name" });
    }
    expect((await batchpipe(["run", "pipeline.yaml"], { cwd: a })).code).toBe(0);
    const other = await batchpipe(["run", "pipeline.yaml", "--json"], { cwd: b });
    expect(other.stderr).not.toContain("STATE_LOST");
    expect(other.code).toBe(0);
    // before, nothing was said: a --state-dir left out paid for everything again in silence
    const started = other.events.find((e) => e.type === "run_started");
    expect(other.events.filter((e) => e.type === "warning")).toEqual([
      {
        type: "warning",
        run: started?.run,
        message: expect.stringMatching(
          /^the provider has batches of pipeline "same-name" submitted from another state folder \(newest: batch_\w+\)/,
        ),
      },
    ]);
    // its own folder again: its batches are its own, nothing to say
    const again = await batchpipe(["run", "pipeline.yaml"], { cwd: b });
    expect(again.stdout + again.stderr).not.toContain("another state folder");
  });

  it("a lost state stops a watcher too; watch --force processes the folder", async () => {
    const dir = tempDir("bp-lost-watch-");
    fs.mkdirSync(path.join(dir, "inbox"));
    writeDataset(dir, 4, { file: "inbox/a.jsonl" });
    writePipeline(dir, {
      baseUrl: emulator.url,
      name: "lost-watch",
      source: "  { use: jsonl, path: ./inbox/ }",
    });
    const once = ["watch", "pipeline.yaml", "--once", "--settle", "200ms", "--json"];
    expect((await batchpipe(once, { cwd: dir })).code).toBe(0);
    fs.rmSync(path.join(dir, ".batchpipe"), { recursive: true });
    const refused = await batchpipe(once, { cwd: dir });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("(STATE_LOST)");
    expect(await batchesOf("lost-watch")).toBe(1);
    const forced = await batchpipe([...once, "--force"], { cwd: dir });
    expect(forced.code).toBe(0);
    expect(await batchesOf("lost-watch")).toBe(2);
  });

  it("the state folder is 0700 and every file in it 0600", async () => {
    const dir = tempDir("bp-state-modes-");
    writeDataset(dir, 20);
    writePipeline(dir, {
      baseUrl: emulator.url,
      name: "modes",
      // keep the shard files (full prompts) to check them
      batch: { max_requests: 10, clean_up: false },
    });
    const run = await batchpipe(["run", "pipeline.yaml"], { cwd: dir });
    expect(run.code).toBe(0);
    const stateDir = path.join(dir, ".batchpipe/modes");
    const modes: string[] = [];
    const walk = (d: string) => {
      for (const entry of fs.readdirSync(d, { withFileTypes: true })) {
        const full = path.join(d, entry.name);
        const mode = (fs.statSync(full).mode & 0o777).toString(8);
        modes.push(`${path.relative(stateDir, full)} ${mode}`);
        if (entry.isDirectory()) walk(full);
      }
    };
    expect((fs.statSync(stateDir).mode & 0o777).toString(8)).toBe("700");
    walk(stateDir);
    expect(modes.some((m) => m.includes("shards"))).toBe(true);
    expect(modes.filter((m) => !/ (600|700)$/.test(m))).toEqual([]);
    expect(
      modes
        .filter((m) => / 700$/.test(m))
        .every((m) => fs.statSync(path.join(stateDir, m.split(" ")[0]!)).isDirectory()),
    ).toBe(true);
  });

  it("the default errors sink inside the state folder writes a 0600 file", async () => {
    const dir = tempDir("bp-state-errors-");
    const data = writeDataset(dir, 5);
    // a record without `text`: its template fails and it goes to the errors sink
    fs.appendFileSync(data, `${JSON.stringify({ id: "no-text" })}\n`);
    const spec = writePipeline(dir, { baseUrl: emulator.url, name: "default-errors" });
    fs.writeFileSync(spec, fs.readFileSync(spec, "utf8").replace(/errors:\n.*\n$/, ""));
    const run = await batchpipe(["run", "pipeline.yaml"], { cwd: dir });
    expect(run.code, run.stderr).toBe(3);
    const errors = path.join(dir, ".batchpipe/default-errors/errors.jsonl");
    expect(fs.readFileSync(errors, "utf8")).toContain('"id":"no-text"');
    expect((fs.statSync(errors).mode & 0o777).toString(8)).toBe("600");
  });
});
