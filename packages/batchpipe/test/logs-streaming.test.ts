/**
 * `batchpipe logs` streams the background run's log: the output is the log, byte for byte, and
 * the memory it needs does not grow with the log (it read the rest of the log into one buffer).
 */
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { batchpipe, FIXTURES, tempDir, writeEmulatorPipeline } from "./support/harness.js";

const MAX_RSS = path.join(FIXTURES, "max-rss.cjs");

/** `batchpipe logs <args>` in dir, with its output and peak resident memory (MB) */
async function logs(dir: string, args: string[] = []) {
  const rssFile = path.join(dir, "max-rss");
  const result = await batchpipe(["logs", "pipeline.yaml", ...args], {
    cwd: dir,
    env: { NODE_OPTIONS: `--require ${MAX_RSS}`, MAX_RSS_FILE: rssFile },
  });
  return { ...result, rssMB: Number(fs.readFileSync(rssFile, "utf8")) / 1024 };
}

/** a log of about `mb` MB: lines with multi-byte characters (some cut by a chunk's edge), the last unfinished */
function writeLog(file: string, mb: number): string {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const fd = fs.openSync(file, "w");
  let written = 0;
  let chunk = "";
  for (let i = 0; written < mb * 1024 * 1024; i++) {
    chunk += `2026-01-01T00:00:00Z line ${i} é ü 日本語 ${"x".repeat(i % 97)}\n`;
    if (chunk.length > 1 << 16) {
      written += fs.writeSync(fd, chunk);
      chunk = "";
    }
  }
  fs.writeSync(fd, `${chunk}the last line, unfinished: ✓`);
  fs.closeSync(fd);
  return fs.readFileSync(file, "utf8");
}

describe("batchpipe logs", () => {
  it("prints a 48 MB log whole, the same as it is, with or without -f, in memory that does not grow with it", async () => {
    const dir = tempDir("bp-logs-");
    try {
      writeEmulatorPipeline(dir, { name: "biglog" });
      const log = path.join(dir, ".batchpipe/biglog/daemon.log");
      fs.mkdirSync(path.dirname(log), { recursive: true });
      fs.writeFileSync(log, "batchpipe daemon started\n");
      const small = await logs(dir);
      expect(small.code, small.stderr).toBe(0);
      expect(small.stdout).toBe("batchpipe daemon started\n");

      const text = writeLog(log, 48);
      const big = await logs(dir);
      expect(big.code, big.stderr).toBe(0);
      // the harness ends every line it reads with a newline, the unfinished last one too
      expect(big.stdout.length).toBe(text.length + 1);
      expect(big.stdout === `${text}\n`).toBe(true);
      // reading the log whole took 190 MB more than the small log's run (the buffer and its text);
      // streamed it takes about 22 MB more (the heap's young space, the same for a 150 MB log)
      expect(big.rssMB - small.rssMB).toBeLessThan(48);

      // -f with no background run running: what is there, then it ends
      const follow = await logs(dir, ["-f"]);
      expect(follow.code, follow.stderr).toBe(0);
      expect(follow.stdout === `${text}\n`).toBe(true);
      expect(follow.rssMB - small.rssMB).toBeLessThan(48);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
