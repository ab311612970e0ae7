// A delivery cut between its parts (the process killed), resumed when the batch's results are gone
// (404: here the in-process emulator's batches die with the process; at a real provider an output
// file deleted or expired). The parts committed before were not re-derived from the results: their
// requests went to the retry shard, sent (paid) again and delivered twice (6,500 rows for 6,000).
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { querySqlite, readJsonl, startBatchpipe, tempDir, writeEmulatorPipeline } from "./support/harness.js";
import { KILLING_SINK } from "./support/killing-sink.js";

const N = 6_000;

describe("a delivery cut between parts, resumed after the results are gone", () => {
  it("sends and delivers only the requests the committed parts did not take", async () => {
    const dir = tempDir("bp-gone-mid-delivery-");
    fs.writeFileSync(path.join(dir, "kill-sink.mjs"), KILLING_SINK);
    fs.writeFileSync(
      path.join(dir, "data.jsonl"),
      Array.from({ length: N }, (_, i) => `${JSON.stringify({ id: `r${i}`, text: `text ${i}` })}\n`).join(""),
    );
    writeEmulatorPipeline(dir, {
      name: "gone-mid",
      source: "./data.jsonl",
      // killed in the first commit of a part that ends at 1,000 (parts of 500: @500 is recorded)
      sinks: [
        "{ use: jsonl, path: ./out/results.jsonl }",
        "{ use: ./kill-sink.mjs, marker: ./killed-at, keys: '@1000$' }",
      ],
    });
    const spec = fs.readFileSync(path.join(dir, "pipeline.yaml"), "utf8");
    fs.writeFileSync(
      path.join(dir, "pipeline.yaml"),
      spec.replace("batch: { poll_interval: 50ms }", "batch: { poll_interval: 50ms, max_requests: 2000 }"),
    );
    const run = (engine?: { deliveryPartSize: number }) =>
      startBatchpipe(["run", "pipeline.yaml", "--json"], { cwd: dir, engine }).done;
    const killed = await run({ deliveryPartSize: 500 });
    expect(killed.signal, killed.stderr).toBe("SIGKILL");
    const done = await run({ deliveryPartSize: 500 });
    expect(done.code, done.stderr).toBe(0);

    const ids = readJsonl<{ id: string }>(path.join(dir, "out/results.jsonl")).map((r) => r.id);
    expect(ids.length).toBe(N);
    expect(new Set(ids).size).toBe(N);
    // the killed shard's retry shard holds the 1,500 requests its recorded part (@500) did not take
    const shards = querySqlite(
      path.join(dir, ".batchpipe/gone-mid/state.db"),
      "SELECT name, requests FROM shards WHERE name LIKE '%-a2' ORDER BY name",
    ) as { name: string; requests: number }[];
    const killedShard = fs
      .readFileSync(path.join(dir, "killed-at"), "utf8")
      .split(":")
      .at(-1)!
      .replace("@1000", "");
    expect(shards.find((s) => s.name === `${killedShard}-a2`)).toMatchObject({ requests: 1_500 });
  });
});
