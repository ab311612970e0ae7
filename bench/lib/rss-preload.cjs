// Preloaded with `node --require` into every measured process: on exit it writes the process's
// peak RSS (kB, from getrusage) and CPU time to $BENCH_RSS_FILE, so the bench measures the process itself,
// and where Linux tells it (schedstat) how long its main thread ran and how long it waited, ready to
// run, for a core that other threads and processes held.
const fs = require("node:fs");

process.on("exit", () => {
  const file = process.env.BENCH_RSS_FILE;
  if (!file) return;
  const u = process.resourceUsage();
  let main = {};
  try {
    // the exit handler runs on the main thread: nanoseconds on a core, waiting for one, timeslices
    const [run, wait] = fs.readFileSync("/proc/thread-self/schedstat", "utf8").split(" ").map(Number);
    main = { mainRunMs: run / 1e6, mainWaitMs: wait / 1e6 };
  } catch {}
  fs.writeFileSync(
    file,
    JSON.stringify({ maxRSS: u.maxRSS, cpuMs: (u.userCPUTime + u.systemCPUTime) / 1000, ...main }),
  );
});
