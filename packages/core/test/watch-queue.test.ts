// watchPipeline in process: a file seen again while it waits for a running group is not taken twice.
import fs from "node:fs";
import path from "node:path";
import { expect, it } from "vitest";
import {
  checkExactlyOnce,
  officialPlugins,
  readJsonl,
  tempDir,
  waitFor,
} from "../../batchpipe/test/support/harness.js";
import { resolvePipeline } from "../src/spec/load.js";
import { type WatchEvent, watchPipeline } from "../src/watch/watch-pipeline.js";

it("a queued file touched while an earlier group runs is skipped, then processed once", async () => {
  const dir = tempDir("bp-watch-queue-");
  fs.mkdirSync(path.join(dir, "inbox"));
  const pipeline = await resolvePipeline(
    {
      version: 1,
      name: "queue",
      // each batch validates for 1.5 s: the first group is still running when the second file waits
      provider: { use: "emulator", emulator: { timeScale: 1, latencies: { validation: 1.5 } } },
      source: { use: "jsonl", path: "./inbox/" },
      transform: {
        id: "{{ id }}",
        body: { model: "gpt-4o-mini", messages: [{ role: "user", content: "{{ text }}" }] },
      },
      batch: { poll_interval: "50ms" },
      sinks: [{ use: "jsonl", path: "./out/results.jsonl" }],
    },
    { dir, builtins: officialPlugins },
  );
  const events: WatchEvent[] = [];
  const controller = new AbortController();
  const watching = watchPipeline(pipeline, {
    signal: controller.signal,
    settle: 200,
    coalesce: 200,
    onEvent: (event) => events.push(event),
  }).catch((error) => error);
  const write = (name: string, ids: string[]) =>
    fs.writeFileSync(
      path.join(dir, "inbox", name),
      ids.map((id) => `${JSON.stringify({ id, text: id })}\n`).join(""),
    );
  const seen = (type: string, file?: string) =>
    events.some((e) => e.type === type && (!file || ("file" in e && e.file.endsWith(file))));

  await waitFor(() => seen("watching"), 5000, "the watcher");
  write("x.jsonl", ["x1", "x2"]);
  await waitFor(() => seen("group_started"), 10_000, "the first group");
  write("a.jsonl", ["a1", "a2"]);
  await waitFor(() => seen("file_queued", "a.jsonl"), 10_000, "a.jsonl queued");
  // past the coalesce time: a.jsonl waits for the running group; now it changes its mtime only
  await new Promise((r) => setTimeout(r, 400));
  expect(seen("file_done", "x.jsonl")).toBe(false);
  const now = new Date();
  fs.utimesSync(path.join(dir, "inbox", "a.jsonl"), now, new Date(now.getTime() + 5000));
  await waitFor(() => seen("file_skipped", "a.jsonl"), 10_000, "a.jsonl recognised");
  await waitFor(() => seen("file_done", "a.jsonl"), 20_000, "a.jsonl done").catch((error) => {
    throw new Error(`${error.message}: ${JSON.stringify(events.filter((e) => e.type === "group_failed"))}`);
  });
  controller.abort();
  expect(((await watching) as { code?: string }).code).toBe("INTERRUPTED");

  const ids = readJsonl<{ id: string }>(path.join(dir, "out/results.jsonl")).map((r) => r.id);
  expect(checkExactlyOnce(ids, ["x1", "x2", "a1", "a2"])).toEqual({ missing: [], duplicated: [], extra: [] });
  expect(events.filter((e) => e.type === "group_started")).toHaveLength(2);
});
