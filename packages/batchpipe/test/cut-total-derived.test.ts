/**
 * The run keeps its cut answers once, per reason (RunCounters.cutByReason): the report's `cut` is
 * their sum, so the two cannot disagree, not even with a state that kept a total beside them (the
 * version that counted cut answers first did). The real CLI in child processes, a kill -9 and a
 * resume, the emulator over HTTP, the state's SQLite file.
 */
import fs from "node:fs";
import path from "node:path";
import type { Emulator } from "@batchpipe/openai-emulator";
import Database from "better-sqlite3";
import { afterAll, beforeAll, expect, it } from "vitest";
import { batchpipe, report, signalOnce, startEmulator, tempDir } from "./support/harness.js";

const LONG = "the box was big and the product was fine, the delivery was quick enough";

let emu: Emulator;
beforeAll(async () => {
  // real time, so the run is still going when its first batch is delivered
  emu = await startEmulator({ timeScale: 1, latencies: { linesPerSecond: 200, validation: 0.05 } });
});
afterAll(async () => {
  await emu?.close();
});

it("a report's cut is the sum of its cutByReason, whatever total a state kept beside them", async () => {
  const dir = tempDir("bp-cut-total-");
  // 12 records, every other one past max_tokens 5 (20 characters): 6 cut
  fs.writeFileSync(
    path.join(dir, "data.jsonl"),
    Array.from(
      { length: 12 },
      (_, i) => `${JSON.stringify({ id: `r${i + 1}`, text: i % 2 ? "ok" : LONG })}\n`,
    ).join(""),
  );
  fs.writeFileSync(
    path.join(dir, "pipeline.yaml"),
    [
      "version: 1",
      "name: cut-total",
      `provider: { use: openai, base_url: "${emu.url}" }`,
      "source: { use: jsonl, path: ./data.jsonl }",
      "transform:",
      '  id: "{{ id }}"',
      '  body: { model: gpt-4o-mini, max_tokens: 5, messages: [{ role: user, content: "{{ text }}" }] }',
      "batch: { max_requests: 4, poll_interval: 50ms }",
      "sinks: [{ use: jsonl, path: ./out/results.jsonl }]",
      "",
    ].join("\n"),
  );

  const killed = await batchpipe(["run", "pipeline.yaml", "--json"], {
    cwd: dir,
    onEvent: (event, child) => {
      if (event.type === "shard_collected") signalOnce(child, "SIGKILL");
    },
  });
  expect(killed.signal, killed.stderr).toBe("SIGKILL");

  // the state as that version wrote it, with a total that disagrees with the counts per reason
  const db = new Database(path.join(dir, ".batchpipe/cut-total/state.db"));
  const { counters } = db.prepare("SELECT counters FROM runs").get() as { counters: string };
  const stored = JSON.parse(counters);
  expect(stored.cutByReason.max_tokens).toBeGreaterThan(0);
  db.prepare("UPDATE runs SET counters = ?").run(JSON.stringify({ ...stored, cut: 99 }));
  db.close();

  const resumed = await batchpipe(["run", "pipeline.yaml", "--json"], { cwd: dir });
  expect(resumed.code, resumed.stderr).toBe(0);
  expect(report(resumed)).toMatchObject({ succeeded: 12, cut: 6, cutByReason: { max_tokens: 6 } });

  // the state keeps the counts per reason only
  const status = await batchpipe(["status", "pipeline.yaml", "--json"], { cwd: dir });
  const kept = JSON.parse(status.stdout).run.counters;
  expect(kept.cutByReason).toEqual({ max_tokens: 6 });
  expect("cut" in kept).toBe(false);
});
