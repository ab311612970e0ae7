// A failure line and a success line for the same custom_id: the success (paid for) wins, wherever
// the failure comes, and the failure line is counted unexpected. Before, a failure placed first won
// and the paid success was dropped as "unexpected". Delivered in parts of 3, so the held failures'
// routing at the end of the results crosses part boundaries. A loopback proxy adds the lines.
import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  batchpipe,
  type EmulatorProcess,
  idCounts,
  readJsonl,
  records,
  report,
  startEmulatorProcess,
  tempDir,
  writePipeline,
} from "./support/harness.js";
import { type LoopbackProxy, startProxy } from "./support/loopback-proxy.js";

let emu: EmulatorProcess | undefined;
let proxy: LoopbackProxy | undefined;
afterEach(async () => {
  await proxy?.close();
  await emu?.close();
  emu = undefined;
  proxy = undefined;
});

const failureFor = (customId: string) =>
  JSON.stringify({
    id: "batch_req_x",
    custom_id: customId,
    response: {
      status_code: 400,
      request_id: "x",
      body: { error: { message: "bad", type: "invalid_request_error", code: "bad_thing" } },
    },
    error: null,
  });

describe("a failure line and a success line for the same request", () => {
  it("the success wins when the failure comes first; the failure is unexpected; every record once", async () => {
    emu = await startEmulatorProcess({ timeScale: 3600 });
    proxy = await startProxy(emu.url, (req, body) => {
      if (!/^\/v1\/files\/[^/]+\/content/.test(req.url ?? "")) return undefined;
      const lines = body
        .toString()
        .split("\n")
        .filter((l) => l !== "");
      // a failure before the success of the first two requests of the file
      const ids = lines.slice(0, 2).map((l) => (JSON.parse(l) as { custom_id: string }).custom_id);
      return { body: Buffer.from(`${[...ids.map(failureFor), ...lines].join("\n")}\n`) };
    });
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, "data.jsonl"), records(20));
    const spec = writePipeline(dir, { baseUrl: `${proxy.origin}/v1` });
    const run = await batchpipe(["run", spec, "--json"], { cwd: dir, engine: { deliveryPartSize: 3 } });
    expect(run.code, run.stderr).toBe(0);
    expect(report(run)).toMatchObject({ succeeded: 20, failed: 0, unexpected: 2, retried: 0, batches: 1 });
    const results = readJsonl<{ id: string }>(path.join(dir, "out/results.jsonl"));
    expect(idCounts(results).size).toBe(20);
    expect([...idCounts(results).values()].every((n) => n === 1)).toBe(true);
    expect(readJsonl(path.join(dir, "out/errors.jsonl"))).toEqual([]);
  });
});
