// Provider output oddities (reference §3.2, §3.8, §6.2): malformed lines, lines for unknown
// custom_ids, requests in neither file, "" file ids (a batch that vanishes: batch-gone.test.ts). Each is counted
// in the reconciliation (unexpected / missing), missing requests are retried, and every record
// still ends exactly once in a sink: never a crash, never a silent loss.
import fs from "node:fs";
import path from "node:path";
import type { Emulator, EmulatorOptions } from "@batchpipe/openai-emulator";
import { afterEach, describe, expect, it } from "vitest";
import {
  batchpipe,
  idCounts,
  readJsonl,
  records,
  report,
  startEmulator,
  tempDir,
  writePipeline,
} from "./support/harness.js";

interface Row {
  id: string;
  status: string;
  attempts: number;
  error?: { code: string; message: string };
}

let emu: Emulator | undefined;
afterEach(async () => {
  await emu?.close();
  emu = undefined;
});

async function runWith(options: EmulatorOptions, n: number, batch: Record<string, string | number> = {}) {
  emu = await startEmulator(options);
  const dir = tempDir();
  fs.writeFileSync(path.join(dir, "data.jsonl"), records(n));
  const spec = writePipeline(dir, { baseUrl: emu.url, batch });
  const run = await batchpipe(["run", spec, "--json"], { cwd: dir });
  return {
    run,
    results: readJsonl<Row>(path.join(dir, "out/results.jsonl")),
    errors: readJsonl<Row>(path.join(dir, "out/errors.jsonl")),
    warnings: run.events.filter((e) => e.type === "warning").map((e) => String(e.message)),
  };
}

describe("provider output oddities", () => {
  it('malformed lines, unknown custom_ids, omitted lines and "" file ids: reported, retried, delivered once', async () => {
    const { run, results, errors } = await runWith(
      {
        emptyStringIds: true,
        lineRules: [
          { customIds: ["r1"], oddity: "malformed", attempts: 1 },
          { customIds: ["r2"], oddity: "unknown_id", attempts: 1 },
          { customIds: ["r3"], oddity: "omit", attempts: 1 },
          { customIds: ["r4"], error: "context_length_exceeded" },
        ],
      },
      6,
    );
    expect(run.stderr).toBe("");
    expect(run.code).toBe(3);
    expect(report(run)).toMatchObject({
      read: 6,
      succeeded: 5,
      failed: 1,
      failedByCode: { context_length_exceeded: 1 },
      // the malformed line and the line for "unknown-r2"
      unexpected: 2,
      // r1, r2 and r3 had no usable line: all three were resubmitted
      missing: 3,
      retried: 3,
      unaccounted: 0,
      batches: 2,
    });
    const ok = idCounts(results);
    expect([...ok.keys()].sort()).toEqual(["r1", "r2", "r3", "r5", "r6"]);
    expect([...ok.values()].every((n) => n === 1)).toBe(true);
    expect(results.filter((r) => ["r1", "r2", "r3"].includes(r.id)).every((r) => r.attempts === 2)).toBe(
      true,
    );
    expect(errors).toEqual([
      expect.objectContaining({
        id: "r4",
        error: expect.objectContaining({ code: "context_length_exceeded" }),
      }),
    ]);
    // the retry batch had no error file: "" was read as absent, not downloaded
    const retry = emu!.state().batches.at(-1)!;
    const answer = await fetch(`${emu!.url}/batches/${retry.id}`, { headers: { authorization: "Bearer x" } });
    expect(((await answer.json()) as { error_file_id: unknown }).error_file_id).toBe("");
  });

  it("a request missing from both files on every attempt ends as a failure row, not a silent loss", async () => {
    const { run, results, errors } = await runWith(
      { lineRules: [{ customIds: ["r2"], oddity: "omit" }] },
      3,
      { max_attempts: 2 },
    );
    expect(run.code).toBe(3);
    expect(report(run)).toMatchObject({ read: 3, succeeded: 2, failed: 1, missing: 2, unaccounted: 0 });
    expect(results.map((r) => r.id).sort()).toEqual(["r1", "r3"]);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ id: "r2", attempts: 2, error: { code: "missing_result" } });
    expect(errors[0]!.error!.message).toMatch(/has no result for this request/);
  });
});
