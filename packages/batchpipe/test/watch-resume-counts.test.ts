// Per-file counts of a group a later watcher resumes: what every watcher of the group read and
// delivered, not only the last one (issue B5: "143750 succeeded" for a 150000-record file).
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import {
  type CliEvent,
  querySqlite,
  startBatchpipe,
  tempDir,
  writeEmulatorPipeline,
} from "./support/harness.js";

const N = 20_000;
const engine = (type: string) => (e: CliEvent) => e.type === "engine" && (e.event as CliEvent).type === type;

describe("batchpipe watch: a group resumed by another watcher", () => {
  it("counts the records read and delivered by every watcher of the group", async () => {
    const dir = tempDir("bp-watch-counts-");
    fs.mkdirSync(path.join(dir, "inbox"));
    writeEmulatorPipeline(dir, { name: "watch-counts" });
    const spec = fs.readFileSync(path.join(dir, "pipeline.yaml"), "utf8");
    fs.writeFileSync(
      path.join(dir, "pipeline.yaml"),
      spec.replace("batch: { poll_interval: 50ms }", "batch: { poll_interval: 50ms, max_requests: 2000 }"),
    );
    const file = path.join(dir, "inbox", "big.jsonl");
    fs.writeFileSync(
      file,
      Array.from({ length: N }, (_, i) => `${JSON.stringify({ id: `r${i}`, text: `text ${i}` })}\n`).join(""),
    );
    const watch = (killOn: string | undefined, extra: string[] = []) =>
      startBatchpipe(
        ["watch", "pipeline.yaml", "--json", "--settle", "100ms", "--coalesce", "100ms", ...extra],
        {
          cwd: dir,
          engine: { readCheckpointEvery: 500 },
          onEvent: (event, child) => {
            if (killOn && engine(killOn)(event)) child.kill("SIGKILL");
          },
        },
      );
    // killed while it reads (after a read checkpoint), then while it delivers
    const reading = watch("read_progress");
    expect((await reading.done).signal).toBe("SIGKILL");
    const delivering = watch("shard_collected");
    expect((await delivering.done).signal).toBe("SIGKILL");
    const last = watch(undefined, ["--once"]);
    expect((await last.done).code, last.stderr()).toBe(0);

    const events = [...reading.events, ...delivering.events, ...last.events];
    const read = events.filter((e) => e.type === "file_read").map((e) => e.records);
    expect(read.at(-1)).toBe(N);
    expect(last.events.find((e) => e.type === "file_done")).toMatchObject({ succeeded: N, failed: 0 });
    expect(last.events.at(-1)).toMatchObject({ type: "summary", files: 1 });
    expect(
      querySqlite(
        path.join(dir, ".batchpipe/watch-counts/watch/watch.db"),
        "SELECT succeeded, failed FROM files",
      ),
    ).toEqual([{ succeeded: N, failed: 0 }]);
  });
});
