// Per-file counts of a watched file when the process dies after a sink committed a delivery but
// before the run's state recorded it: the delivery is made again (the sinks roll back to the
// state's checkpoints), and the file's counts must hold each record once, however the second
// delivery is keyed.
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { querySqlite, startBatchpipe, tempDir, writeEmulatorPipeline } from "./support/harness.js";

const N = 6_000;

// a second sink that kills its own process with SIGKILL inside its first commit of a whole shard
// (once: a marker file remembers), i.e. after the first sink committed and before the state did.
// Keys: "<run>:<shard>" for a shard, "…@<end>" for a part, "…:prep", "…|open" at open.
const killingSink = `import fs from "node:fs";
import { defineSink, z } from "batchpipe/plugin";
export default defineSink({
  name: "kill-once",
  options: z.strictObject({ marker: z.string() }),
  async open({ options }) {
    return {
      async write() {},
      async commit(key) {
        const shard = /^[^|@]+:[0-9]+$/.test(key);
        if (shard && !fs.existsSync(options.marker)) {
          fs.writeFileSync(options.marker, key);
          process.kill(process.pid, "SIGKILL");
          await new Promise(() => {});
        }
        return null;
      },
      async close() {},
    };
  },
});
`;

describe("batchpipe watch: killed between a sink's commit and the state's", () => {
  it("counts every record of the file once", async () => {
    const dir = tempDir("bp-watch-commit-gap-");
    fs.mkdirSync(path.join(dir, "inbox"));
    fs.writeFileSync(path.join(dir, "kill-sink.mjs"), killingSink);
    writeEmulatorPipeline(dir, {
      name: "commit-gap",
      sinks: ["{ use: jsonl, path: ./out/results.jsonl }", "{ use: ./kill-sink.mjs, marker: ./killed-at }"],
    });
    const spec = fs.readFileSync(path.join(dir, "pipeline.yaml"), "utf8");
    fs.writeFileSync(
      path.join(dir, "pipeline.yaml"),
      spec.replace("batch: { poll_interval: 50ms }", "batch: { poll_interval: 50ms, max_requests: 2000 }"),
    );
    fs.writeFileSync(
      path.join(dir, "inbox", "big.jsonl"),
      Array.from({ length: N }, (_, i) => `${JSON.stringify({ id: `r${i}`, text: `text ${i}` })}\n`).join(""),
    );
    const watch = () =>
      startBatchpipe(["watch", "pipeline.yaml", "--json", "--once", "--settle", "100ms"], { cwd: dir });
    const killed = await watch().done;
    expect(killed.signal, killed.stderr).toBe("SIGKILL");
    expect(fs.existsSync(path.join(dir, "killed-at"))).toBe(true);
    const last = watch();
    const done = await last.done;
    expect(done.code, done.stderr).toBe(0);

    const ids = fs
      .readFileSync(path.join(dir, "out/results.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((line) => (JSON.parse(line) as { id: string }).id);
    expect(ids.length).toBe(N);
    expect(new Set(ids).size).toBe(N);
    expect(last.events.find((e) => e.type === "file_done")).toMatchObject({ succeeded: N, failed: 0 });
    expect(
      querySqlite(
        path.join(dir, ".batchpipe/commit-gap/watch/watch.db"),
        "SELECT succeeded, failed FROM files",
      ),
    ).toEqual([{ succeeded: N, failed: 0 }]);
  });
});
