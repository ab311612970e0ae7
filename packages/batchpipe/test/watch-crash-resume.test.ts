import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type CliEvent,
  checkExactlyOnce,
  type EmulatorProcess,
  fileIds,
  readJsonl,
  startEmulatorProcess,
  startWatcher,
  tempDir,
  waitFor,
} from "./support/harness.js";

const engine = (type: string) => (e: CliEvent) => e.type === "engine" && (e.event as CliEvent).type === type;

const lines = (k: number) =>
  Array.from(
    { length: 10 },
    (_, i) => `${JSON.stringify({ id: `f${k}-${i + 1}`, text: `file ${k} record ${i + 1}` })}\n`,
  ).join("");

/** write a file in 5 chunks (cutting lines), 150 ms apart: well under the watcher's 1.5 s settle time */
async function writeSlowly(file: string, content: string): Promise<void> {
  const fd = fs.openSync(file, "w");
  const size = Math.ceil(content.length / 5);
  for (let i = 0; i < content.length; i += size) {
    fs.writeSync(fd, content.slice(i, i + size));
    await new Promise((r) => setTimeout(r, 150));
  }
  fs.closeSync(fd);
}

describe("batchpipe watch: 20 files, slow writers, three SIGKILLs and restarts", () => {
  let emulator: EmulatorProcess;
  beforeAll(async () => {
    emulator = await startEmulatorProcess({
      timeScale: 1,
      latencies: { validation: 0.2, linesPerSecond: 200, finalizing: 0.2 },
    });
  });
  afterAll(async () => {
    await emulator?.close();
  });

  it("puts every record of every file in the sinks exactly once and submits no request twice", async () => {
    const dir = tempDir("bp-watch-");
    fs.mkdirSync(path.join(dir, "inbox"));
    fs.writeFileSync(
      path.join(dir, "pipeline.yaml"),
      [
        "version: 1",
        "name: watch-crash",
        "provider:",
        "  use: openai",
        `  base_url: ${emulator.url}`,
        // biome-ignore lint/suspicious/noTemplateCurlyInString: the spec's ${VAR} syntax
        "  api_key: ${OPENAI_API_KEY}",
        "source: { use: jsonl, path: ./inbox/*.jsonl }",
        "transform:",
        '  id: "{{ id }}"',
        '  body: { model: gpt-4o-mini, max_tokens: 5, messages: [{ role: user, content: "{{ text }}" }] }',
        "batch: { poll_interval: 100ms, max_requests: 15, clean_up: false }",
        "sinks:",
        "  - { use: jsonl, path: ./out/results.jsonl, fields: all }",
        "  - { use: sqlite, path: ./out/results.db }",
        "errors:",
        "  - { use: jsonl, path: ./out/errors.jsonl }",
        "",
      ].join("\n"),
    );
    const inbox = (k: number) => path.join(dir, "inbox", `f${String(k).padStart(2, "0")}.jsonl`);
    const slow = (k: number) => k % 4 === 0;

    // watcher 1: files 1-8 arrive (2 and 4... slowly); killed when its first batch is submitted
    const first = startWatcher(dir, engine("shard_submitted"));
    await waitFor(() => first.events.some((e) => e.type === "watching"), 10_000, "the watcher to start");
    const writes: Promise<void>[] = [];
    for (let k = 1; k <= 8; k++) {
      if (slow(k)) writes.push(writeSlowly(inbox(k), lines(k)));
      else fs.writeFileSync(inbox(k), lines(k));
    }
    expect((await first.done).signal).toBe("SIGKILL");
    // files 9-14 arrive while no watcher runs, one of them still being written at the restart
    for (let k = 9; k <= 14; k++) {
      if (slow(k)) writes.push(writeSlowly(inbox(k), lines(k)));
      else fs.writeFileSync(inbox(k), lines(k));
    }

    // watcher 2: killed after its first delivery to the sinks
    const second = startWatcher(dir, engine("shard_collected"));
    expect((await second.done).signal).toBe("SIGKILL");
    expect(second.events.some((e) => e.type === "group_started" && e.resumed === true)).toBe(true);

    // watcher 3: killed as its first run finishes (the group may or may not be marked done yet)
    const between = startWatcher(dir, engine("run_finished"));
    expect((await between.done).signal).toBe("SIGKILL");

    // watcher 4: files 15-20 arrive while it runs; it finishes everything
    const third = startWatcher(dir);
    for (let k = 15; k <= 20; k++) {
      if (slow(k)) writes.push(writeSlowly(inbox(k), lines(k)));
      else fs.writeFileSync(inbox(k), lines(k));
      await new Promise((r) => setTimeout(r, 100));
    }
    await Promise.all(writes);
    const expected = Array.from({ length: 20 }, (_, k) =>
      Array.from({ length: 10 }, (_, i) => `f${k + 1}-${i + 1}`),
    ).flat();
    const results = path.join(dir, "out/results.jsonl");
    await waitFor(() => readJsonl(results).length >= 200, 45_000, "200 results").catch((error) => {
      third.child.kill("SIGKILL");
      throw new Error(`${error.message}; watcher stderr: ${third.stderr()}`);
    });
    await waitFor(() => third.events.at(-1)?.type === "idle", 15_000, "the watcher to be idle");
    third.child.kill("SIGTERM");
    expect((await third.done).code).toBe(143);
    expect(third.stderr()).toBe("");

    // every record once in each sink, none failed
    const rows = readJsonl<{ id: string; source: { file: string; line: number } }>(results);
    const queued = [first, second, between, third].map((w, i) =>
      w.events
        .filter((e) => e.type === "file_queued")
        .map((e) => `w${i + 1}:${path.basename(String(e.file))}:${e.bytes}`),
    );
    expect(
      checkExactlyOnce(
        rows.map((r) => r.id),
        expected,
      ),
      `files queued by each watcher: ${JSON.stringify(queued)}`,
    ).toEqual({ missing: [], duplicated: [], extra: [] });
    const db = new Database(path.join(dir, "out/results.db"), { readonly: true });
    const sqliteIds = (db.prepare("SELECT id FROM results").all() as { id: string }[]).map((r) => r.id);
    db.close();
    expect(checkExactlyOnce(sqliteIds, expected)).toEqual({ missing: [], duplicated: [], extra: [] });
    expect(readJsonl(path.join(dir, "out/errors.jsonl"))).toEqual([]);
    // each row names its original file and line
    const row = rows.find((r) => r.id === "f12-7")!;
    expect(row.source).toEqual({ file: inbox(12), line: 7 });

    // the provider saw each request once: no file's requests were submitted twice
    const state = await emulator.state();
    const submitted: string[] = [];
    for (const batch of state.batches) submitted.push(...(await fileIds(emulator, batch.input_file_id)));
    expect(checkExactlyOnce(submitted, expected)).toEqual({ missing: [], duplicated: [], extra: [] });
    expect(new Set(state.batches.map((b) => b.input_sha256)).size).toBe(state.batches.length);
    // files that arrived together shared batches
    expect(state.batches.length).toBeLessThan(20);
    console.log(
      `watch crash test: ${state.batches.length} batches for 20 files / 200 records, ` +
        `${first.events.length + second.events.length + between.events.length + third.events.length} events over 4 watchers`,
    );
  });
});
