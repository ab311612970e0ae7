// A run in an outage waited for the submission in flight beside it: a turn ends with its
// submission, and an upload's one attempt may take up to provider.upload_timeout_ms (10 min by
// default), so a slow upload kept a run with a 2 s max_outage going until the upload ended. The
// turn now waits no longer than max_outage's end, and the stop cuts the upload, as a crash would:
// the shard stays `submitting`, and the rerun reconciles it (a finished upload or create is found,
// not paid twice).
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  batchpipe,
  type EmulatorProcess,
  expectEachOnce,
  records,
  startEmulatorProcess,
  tempDir,
  writePipeline,
} from "./support/harness.js";
import { expectStoppedByOutage, startIntoOutage } from "./support/outage.js";

let emulator: EmulatorProcess | undefined;
afterEach(async () => {
  await emulator?.close();
  emulator = undefined;
});

const MAX_OUTAGE_S = 2;
/** the second shard's upload is answered this late */
const SLOW_UPLOAD = { route: "POST /v1/files", calls: [2], kind: "delay", delayMs: 30_000 } as const;

describe("a run stopping on an outage cuts the upload in flight", () => {
  it("stops about max_outage into the outage, not when the upload ends; a rerun pays each shard once", async () => {
    emulator = await startEmulatorProcess({
      timeScale: 1,
      latencies: { linesPerSecond: 1, validation: 0.05 },
      faults: [SLOW_UPLOAD],
    });
    const dir = tempDir();
    // the source is a pipe: the second shard's records come once the outage is under way
    const fifo = path.join(dir, "in.fifo");
    execFileSync("mkfifo", [fifo]);
    const spec = writePipeline(dir, {
      baseUrl: emulator.url,
      data: "in.fifo",
      batch: { max_outage: `${MAX_OUTAGE_S}s`, max_requests: 2 },
    });
    let rest: Promise<void> | undefined;
    // from the first submission on, the first batch's polls answer 503
    const outage = startIntoOutage(
      emulator,
      ["run", spec, "--json"],
      [SLOW_UPLOAD, { route: "GET /v1/batches/:id", status: 503 }],
      {
        cwd: dir,
        // the first shard is committed (and submitted) while the pipe is still open
        engine: { readCheckpointEvery: 2 },
        onEvent: (event) => {
          // the outage is under way: the second shard's records, then the pipe's end
          if (event.type === "warning" && /could not poll/.test(String(event.message))) rest ??= writeRest();
        },
      },
    );
    const pipe = await fs.promises.open(fifo, "w");
    await pipe.write(records(3));
    const writeRest = async () => {
      await pipe.write(records(1, 4));
      await pipe.close();
    };
    const first = await outage.done;
    await rest;
    // before: the upload's 30 s
    expectStoppedByOutage(first, { since: outage.outageAt(), maxOutageS: MAX_OUTAGE_S });
    // the second shard's upload was under way
    expect((await emulator.state()).calls["POST /v1/files"]).toBe(2);

    await emulator.configure({ faults: [], latencies: { linesPerSecond: 1000 } });
    const second = await batchpipe(["run", spec, "--json"], { cwd: dir, timeoutMs: 60_000 });
    expect(second.code, second.stderr).toBe(0);
    expectEachOnce(path.join(dir, "out/results.jsonl"), 4);
    expect((await emulator.state()).batches).toHaveLength(2);
  });
});
