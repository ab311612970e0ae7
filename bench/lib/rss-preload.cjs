// Preloaded with `node --require` into every measured process: on exit it writes the process's
// peak RSS (kB, from getrusage) and CPU time to $BENCH_RSS_FILE, so the bench measures the process itself.
const fs = require("node:fs");

process.on("exit", () => {
  const file = process.env.BENCH_RSS_FILE;
  if (!file) return;
  const u = process.resourceUsage();
  fs.writeFileSync(
    file,
    JSON.stringify({ maxRSS: u.maxRSS, cpuMs: (u.userCPUTime + u.systemCPUTime) / 1000 }),
  );
});
