// watchPipeline in process: the start of a watcher (chokidar lists a folder, then watches it; a
// file created between the two gets no event), and a file seen again while it waits for a running
// group.
import fs from "node:fs";
import { syncBuiltinESMExports } from "node:module";
import path from "node:path";
import { afterEach, expect, it } from "vitest";
import {
  checkExactlyOnce,
  officialPlugins,
  readJsonl,
  tempDir,
  waitFor,
} from "../../batchpipe/test/support/harness.js";
import { resolvePipeline } from "../src/spec/load.js";
import { type WatchEvent, watchPipeline } from "../src/watch/watch-pipeline.js";

const realWatch = fs.watch;
afterEach(() => {
  fs.watch = realWatch;
  syncBuiltinESMExports();
});

/**
 * Runs `before` just before the first fs.watch of `folder`: after chokidar has listed the folder and
 * before its watch exists. Not a mock: the watch is node's; this only picks the moment. chokidar
 * imports `watch` from node:fs, which syncBuiltinESMExports points at the wrapper.
 */
function beforeWatching(folder: string, before: () => void): { watched: () => boolean } {
  let watched = false;
  fs.watch = ((file: fs.PathLike, ...rest: unknown[]) => {
    if (!watched && path.resolve(String(file)) === folder) {
      before();
      watched = true;
    }
    return (realWatch as (...args: unknown[]) => fs.FSWatcher)(file, ...rest);
  }) as typeof fs.watch;
  syncBuiltinESMExports();
  return { watched: () => watched };
}

/**
 * watchPipeline over `<dir>/inbox/` (the in-process emulator, `emulator` its options), running;
 * `onWatching` is called at its `watching`
 */
async function startWatch(
  dir: string,
  o: { emulator?: Record<string, unknown>; onWatching?: () => void } = {},
) {
  const pipeline = await resolvePipeline(
    {
      version: 1,
      name: "watch",
      provider: { use: "emulator", emulator: o.emulator ?? { timeScale: 3600 } },
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
  const result = watchPipeline(pipeline, {
    signal: controller.signal,
    settle: 200,
    coalesce: 200,
    onEvent: (event) => {
      if (event.type === "watching") o.onWatching?.();
      events.push(event);
    },
  }).catch((error) => error);
  const seen = (type: string, file?: string) =>
    events.some((e) => e.type === type && (!file || ("file" in e && path.basename(e.file) === file)));
  const done = (...files: string[]) =>
    files.every((f) => events.some((e) => e.type === "file_done" && path.basename(e.file) === f));
  const waitDone = (...files: string[]) =>
    waitFor(() => done(...files), 20_000, files.join(", ")).catch((error) => {
      const seen = events.map((e) => [e.type, "file" in e ? path.basename(e.file) : ""]);
      throw new Error(`${error.message}: ${JSON.stringify(seen)}`);
    });
  const stop = async () => {
    controller.abort();
    expect(((await result) as { code?: string }).code).toBe("INTERRUPTED");
    return readJsonl<{ id: string }>(path.join(dir, "out/results.jsonl")).map((r) => r.id);
  };
  return { events, seen, waitDone, stop };
}

function inboxIn(dir: string): { inbox: string; write: (name: string, ids: string[]) => void } {
  const inbox = path.join(dir, "inbox");
  fs.mkdirSync(inbox);
  const write = (name: string, ids: string[]) =>
    fs.writeFileSync(
      path.join(inbox, name),
      ids.map((id) => `${JSON.stringify({ id, text: id })}\n`).join(""),
    );
  return { inbox, write };
}

const ONCE_EACH = { missing: [], duplicated: [], extra: [] };

it("a file created between chokidar's listing of the folder and its watch is processed, once", async () => {
  const dir = tempDir("bp-watch-gap-");
  const { inbox, write } = inboxIn(dir);
  write("before.jsonl", ["b1"]);
  beforeWatching(inbox, () => write("gap.jsonl", ["g1", "g2"]));
  // nothing else changes in the folder afterwards: no later event would bring gap.jsonl up
  const watch = await startWatch(dir);
  await watch.waitDone("before.jsonl", "gap.jsonl");
  // the next change makes chokidar list the folder again: it reports gap.jsonl now, a second time
  write("later.jsonl", ["l1"]);
  await watch.waitDone("later.jsonl");
  const gapEvents = () =>
    watch.events
      .filter((e) => "file" in e && path.basename(e.file) === "gap.jsonl")
      .map((e) => (e.type === "file_skipped" ? `${e.type}: ${e.reason}` : e.type));
  await waitFor(() => gapEvents().includes("file_skipped: already processed"), 5000, "gap.jsonl again");
  expect(checkExactlyOnce(await watch.stop(), ["b1", "g1", "g2", "l1"])).toEqual(ONCE_EACH);
  expect(gapEvents()).toEqual(["file_queued", "file_read", "file_done", "file_skipped: already processed"]);
});

it("`watching` comes once the folder is watched; a file written right after it is processed", async () => {
  const dir = tempDir("bp-watch-ready-");
  const { inbox, write } = inboxIn(dir);
  write("before.jsonl", ["b1"]);
  const folder = beforeWatching(inbox, () => {});
  let watchedAtWatching: boolean | undefined;
  const watch = await startWatch(dir, {
    onWatching: () => {
      watchedAtWatching = folder.watched();
    },
  });
  await waitFor(() => watch.seen("watching"), 10_000, "the watcher");
  expect(watchedAtWatching).toBe(true);
  write("after.jsonl", ["a1"]);
  await watch.waitDone("before.jsonl", "after.jsonl");
  expect(checkExactlyOnce(await watch.stop(), ["b1", "a1"])).toEqual(ONCE_EACH);
});

it("a queued file touched while an earlier group runs is skipped, then processed once", async () => {
  const dir = tempDir("bp-watch-queue-");
  const { inbox, write } = inboxIn(dir);
  // each batch validates for 1.5 s: the first group is still running when the second file waits
  const watch = await startWatch(dir, { emulator: { timeScale: 1, latencies: { validation: 1.5 } } });
  const { seen } = watch;
  await waitFor(() => seen("watching"), 5000, "the watcher");
  write("x.jsonl", ["x1", "x2"]);
  await waitFor(() => seen("group_started"), 10_000, "the first group");
  write("a.jsonl", ["a1", "a2"]);
  await waitFor(() => seen("file_queued", "a.jsonl"), 10_000, "a.jsonl queued");
  // past the coalesce time: a.jsonl waits for the running group; now it changes its mtime only
  await new Promise((r) => setTimeout(r, 400));
  expect(seen("file_done", "x.jsonl")).toBe(false);
  const now = new Date();
  fs.utimesSync(path.join(inbox, "a.jsonl"), now, new Date(now.getTime() + 5000));
  await waitFor(() => seen("file_skipped", "a.jsonl"), 10_000, "a.jsonl recognised");
  await watch.waitDone("a.jsonl");
  expect(checkExactlyOnce(await watch.stop(), ["x1", "x2", "a1", "a2"])).toEqual(ONCE_EACH);
  expect(watch.events.filter((e) => e.type === "group_started")).toHaveLength(2);
});
