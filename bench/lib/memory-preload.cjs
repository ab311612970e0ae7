// Preloaded with `node --require` by bench/memory-timeline.js: every BENCH_MEM_EVERY_MS (200) it
// appends one line of process.memoryUsage() and V8's heap spaces (MB) to $BENCH_MEM_FILE (and one
// line of each worker thread's own heap, marked `thread`), so a run's memory can be lined up with
// its events. BENCH_MEM_SNAPSHOT_MB: write one heap snapshot into the file's folder the first time
// RSS passes that many MB (diagnosis only: it stops the run); BENCH_MEM_SNAPSHOT_AB_MB: the same
// when ArrayBuffers pass that many MB.
const fs = require("node:fs");
const path = require("node:path");
const v8 = require("node:v8");
const { isMainThread, threadId } = require("node:worker_threads");

const file = process.env.BENCH_MEM_FILE;
const mb = (bytes) => Math.round(bytes / 1048576);
/** this thread's isolate: its heap and the memory outside it that it holds (MB) */
const isolate = (m) => ({
  heapTotal: mb(m.heapTotal),
  heapUsed: mb(m.heapUsed),
  external: mb(m.external),
  arrayBuffers: mb(m.arrayBuffers),
});
// node runs a --require preload in every worker thread too: a worker writes its own isolate's heap
// figures, marked with its thread id (RSS and the rest are the process's, written by the main thread)
if (file && !isMainThread) {
  const sample = () => {
    const line = { at: Date.now(), thread: threadId, ...isolate(process.memoryUsage()) };
    fs.appendFileSync(file, `${JSON.stringify(line)}\n`);
  };
  setInterval(sample, Number(process.env.BENCH_MEM_EVERY_MS ?? 200)).unref();
} else if (file) {
  const snapshotAt = Number(process.env.BENCH_MEM_SNAPSHOT_MB ?? 0) * 1048576;
  const snapshotAbAt = Number(process.env.BENCH_MEM_SNAPSHOT_AB_MB ?? 0) * 1048576;
  let snapshotTaken = false;
  let peak = 0;
  const sample = () => {
    const m = process.memoryUsage();
    const spaces = {};
    for (const s of v8.getHeapSpaceStatistics())
      spaces[s.space_name.replace(/_space$/, "")] = mb(s.space_used_size);
    const line = {
      at: Date.now(),
      rss: mb(m.rss),
      ...isolate(m),
      spaces,
      ...procStatus(),
    };
    fs.appendFileSync(file, `${JSON.stringify(line)}\n`);
    // at each new peak (5 MB past the last one): where the anonymous memory is, by mapping
    if (m.rss > peak + 5 * 1048576) {
      peak = m.rss;
      fs.appendFileSync(file, `${JSON.stringify({ at: line.at, smaps: smaps() })}\n`);
    }
    if (
      !snapshotTaken &&
      ((snapshotAt && m.rss >= snapshotAt) || (snapshotAbAt && m.arrayBuffers >= snapshotAbAt))
    ) {
      snapshotTaken = true;
      v8.writeHeapSnapshot(path.join(path.dirname(file), `at-${mb(m.rss)}mb.heapsnapshot`));
    }
  };
  sample();
  setInterval(sample, Number(process.env.BENCH_MEM_EVERY_MS ?? 200)).unref();
  process.on("exit", () => {
    sample();
    fs.appendFileSync(
      file,
      `${JSON.stringify({ at: Date.now(), maxRSS: mb(process.resourceUsage().maxRSS * 1024) })}\n`,
    );
  });
}

/** RSS of anonymous memory and of mapped files (the node binary, libraries), and the thread count */
function procStatus() {
  try {
    const status = fs.readFileSync("/proc/self/status", "utf8");
    const kb = (key) => Number(new RegExp(`^${key}:\\s+(\\d+)`, "m").exec(status)?.[1] ?? 0);
    return {
      anon: Math.round(kb("RssAnon") / 1024),
      file: Math.round(kb("RssFile") / 1024),
      threads: kb("Threads"),
    };
  } catch {
    return {};
  }
}
/**
 * Anonymous RSS (MB) by kind of mapping: the brk heap (glibc's main arena), mappings of 64 MB or
 * more (glibc's thread arenas reserve 64 MB; V8 reserves its code range), and the rest by size
 * (V8's heap pages are 256 KB; big malloc()s such as ArrayBuffer backing stores get their own).
 */
function smaps() {
  const out = { brk: 0, "64mb+": 0, "1-64mb": 0, "<1mb": 0, top: [] };
  let size = 0;
  let name = "";
  for (const l of fs.readFileSync("/proc/self/smaps", "utf8").split("\n")) {
    const head = /^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ (\d+)\s*(.*)$/.exec(l);
    if (head) {
      size = (Number.parseInt(head[2], 16) - Number.parseInt(head[1], 16)) / 1048576;
      name = head[3] !== "0" ? "file" : head[4] || "anon";
      continue;
    }
    const rss = /^Rss:\s+(\d+)/.exec(l);
    if (!rss || name === "file" || (name !== "anon" && name !== "[heap]")) continue;
    const mbRss = Number(rss[1]) / 1024;
    const kind = name === "[heap]" ? "brk" : size >= 64 ? "64mb+" : size >= 1 ? "1-64mb" : "<1mb";
    out[kind] += mbRss;
    if (mbRss >= 4) out.top.push(`${kind} ${Math.round(size)}MB mapping: ${Math.round(mbRss)}MB`);
  }
  for (const k of ["brk", "64mb+", "1-64mb", "<1mb"]) out[k] = Math.round(out[k]);
  return out;
}
