/**
 * Answers cut short in `batchpipe runs` and in the live progress line: the runs table's ok cell
 * says how many of them were cut, and the progress events carry the counts per reason, which the
 * progress line shows beside ok. The real CLI in child processes, the emulator over HTTP; the
 * progress line is rendered from the run's own last progress event.
 */
import fs from "node:fs";
import path from "node:path";
import type { ProgressSnapshot } from "@batchpipe/core";
import type { Emulator } from "@batchpipe/openai-emulator";
import { afterAll, beforeAll, expect, it } from "vitest";
import { createProgressRenderer } from "../src/commands/run-output.js";
import { batchpipe, startEmulator, tempDir } from "./support/harness.js";

const LONG = "the box was big and the product was fine, the delivery was quick enough";

let emu: Emulator;
let dir: string;
beforeAll(async () => {
  // r2 and r5 stopped by the content filter, r1 and r3 (long) cut at max_tokens 8
  emu = await startEmulator({ lineRules: [{ customIds: ["r2", "r5"], stop: "content_filter" }] });
  dir = tempDir("bp-cut-runs-");
  fs.writeFileSync(
    path.join(dir, "data.jsonl"),
    ["r1", "r2", "r3", "r4", "r5", "r6"]
      .map((id) => `${JSON.stringify({ id, text: id === "r1" || id === "r3" ? LONG : `short ${id}` })}\n`)
      .join(""),
  );
  fs.writeFileSync(
    path.join(dir, "pipeline.yaml"),
    [
      "version: 1",
      "name: cut-runs",
      `provider: { use: openai, base_url: "${emu.url}" }`,
      "source: { use: jsonl, path: ./data.jsonl }",
      "transform:",
      '  id: "{{ id }}"',
      '  body: { model: gpt-4o-mini, max_tokens: 8, messages: [{ role: user, content: "{{ text }}" }] }',
      "batch: { poll_interval: 50ms }",
      "sinks: [{ use: jsonl, path: ./out/results.jsonl }]",
      "",
    ].join("\n"),
  );
});
afterAll(async () => {
  await emu?.close();
});

it("the progress events count cut answers per reason and the progress line shows them beside ok", async () => {
  const run = await batchpipe(["run", "pipeline.yaml", "--json"], { cwd: dir });
  expect(run.code, run.stderr).toBe(0);
  const last = run.events.filter((e) => e.type === "progress").at(-1)!.snapshot as ProgressSnapshot;
  expect(last).toMatchObject({ succeeded: 6, cutByReason: { max_tokens: 2, content_filter: 2 } });

  const lines: string[] = [];
  const io = {
    stdout: { write: () => true },
    stderr: { write: (text: string) => lines.push(text) > 0 },
  } as unknown as Parameters<typeof createProgressRenderer>[0];
  createProgressRenderer(io, { tty: false }).onEvent({ type: "progress", snapshot: last });
  expect(lines.join("")).toContain(
    "| ok 6 (2 cut short at max_tokens, 2 stopped by the content filter) · failed 0 · tokens",
  );
});

it("batchpipe runs says how many of a run's answers were cut", async () => {
  const runs = await batchpipe(["runs", "pipeline.yaml"], { cwd: dir });
  expect(runs.code, runs.stderr).toBe(0);
  const [header, row] = runs.stdout.trimEnd().split("\n");
  expect(header).toMatch(/^run\s+status\s+started \(UTC\)\s+took\s+read\s+ok\s+failed\s+cost\s+batches$/);
  // read, ok (cut), failed
  expect(row).toMatch(/\sdone\s.*\s6\s+6 \(4 cut\)\s+0\s+\$/);
});
