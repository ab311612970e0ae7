// Per-file counts of a watched file when the process dies after a sink committed a delivery but
// before the run's state recorded it: the delivery is made again (the sinks roll back to the
// state's checkpoints), and the file's counts must hold each record once, however the second
// delivery is keyed.
import fs from "node:fs";
import path from "node:path";
import type { EngineTuning } from "@batchpipe/core";
import { describe, expect, it } from "vitest";
import { querySqlite, startBatchpipe, tempDir, writeEmulatorPipeline } from "./support/harness.js";
import { KILLING_SINK } from "./support/killing-sink.js";

const N = 6_000;

/** a watched file of N records and a pipeline whose second sink kills the process at a commit */
function fixture(name: string, keys: string): string {
  const dir = tempDir(`bp-${name}-`);
  fs.mkdirSync(path.join(dir, "inbox"));
  fs.writeFileSync(path.join(dir, "kill-sink.mjs"), KILLING_SINK);
  writeEmulatorPipeline(dir, {
    name,
    sinks: [
      "{ use: jsonl, path: ./out/results.jsonl }",
      `{ use: ./kill-sink.mjs, marker: ./killed-at, keys: '${keys}' }`,
    ],
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
  return dir;
}

/** a watcher killed by the sink, then one to the end: every id once, counted once */
async function killThenResume(dir: string, name: string, first?: EngineTuning): Promise<void> {
  const watch = (engine?: EngineTuning) =>
    startBatchpipe(["watch", "pipeline.yaml", "--json", "--once", "--settle", "100ms"], { cwd: dir, engine });
  const killed = await watch(first).done;
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
    querySqlite(path.join(dir, `.batchpipe/${name}/watch/watch.db`), "SELECT succeeded, failed FROM files"),
  ).toEqual([{ succeeded: N, failed: 0 }]);
}

describe("batchpipe watch: killed between a sink's commit and the state's", () => {
  it("in a shard's commit (the in-process emulator's batches then lost): every record counted once", async () => {
    await killThenResume(fixture("commit-gap", "^[^|@]+:[0-9]+$"), "commit-gap");
  });

  it("in a part's commit, resumed with another part size: the part's rows are not counted twice", async () => {
    // parts of 500 (@500, @1000, @1500, then the shard's key); killed in the first @1000, resumed
    // with the default part size: the rest of that shard goes in one commit under the shard's key
    const dir = fixture("commit-gap-part", "@1000$");
    await killThenResume(dir, "commit-gap-part", { deliveryPartSize: 500 });
  });
});
