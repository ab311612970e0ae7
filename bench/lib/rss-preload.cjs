// Preloaded with `node --require` into every measured process: on exit it writes the process's
// peak RSS (kB, from getrusage) to $BENCH_RSS_FILE, so the bench measures the process itself.
const fs = require("node:fs");

process.on("exit", () => {
  const file = process.env.BENCH_RSS_FILE;
  if (file) fs.writeFileSync(file, String(process.resourceUsage().maxRSS));
});
