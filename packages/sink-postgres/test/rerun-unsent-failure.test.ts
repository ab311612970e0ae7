// A record that succeeded in run 1 and failed before it was sent in run 2 (its prompt template now
// fails for it) kept run 1's success row in the table sinks, which upsert by id: 1 of 3 rows showed
// a success the latest run reports as template_error. Result sinks that keep rows across runs now
// drop the row (SinkHandle.forget), as they do for a request that fails at the provider, and the
// failure row is in the errors sink. sink-sqlite has the same test (rerun-unsent-failure.test.ts).
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  batchpipe,
  type EmulatorProcess,
  readJsonl,
  startEmulatorProcess,
  tempDir,
  writePipeline,
} from "../../batchpipe/test/support/harness.js";
import { sharedPostgres, URL_REF } from "./support/postgres-server.mjs";

let server: Awaited<ReturnType<typeof sharedPostgres>>;
let emulator: EmulatorProcess;
beforeAll(async () => {
  [server, emulator] = await Promise.all([sharedPostgres(), startEmulatorProcess()]);
});
afterAll(async () => {
  await emulator?.close();
});

const lines = (records: object[]) => records.map((r) => `${JSON.stringify(r)}\n`).join("");

describe("a rerun where a record fails before it is sent", () => {
  it("drops that record's earlier success row from the postgres table", async () => {
    const url = await server.createDatabase("rerun_unsent");
    const dir = tempDir("bp-rerun-unsent-");
    const data = path.join(dir, "data.jsonl");
    const spec = writePipeline(dir, {
      baseUrl: emulator.url,
      name: "rerun-unsent",
      sinks: [`- { use: postgres, ${URL_REF}, table: results }`],
    });
    const run = async () => {
      const result = await batchpipe(["run", spec, "--json"], { cwd: dir, env: { DATABASE_URL: url } });
      const rows = await server.query("SELECT id FROM results ORDER BY id", [], "rerun_unsent");
      return { code: result.code, ids: rows.map((r: { id: string }) => r.id) };
    };

    fs.writeFileSync(data, lines([1, 2, 3].map((i) => ({ id: `rec-${i}`, text: `record ${i}` }))));
    expect(await run()).toEqual({ code: 0, ids: ["rec-1", "rec-2", "rec-3"] });

    // rec-2 has no text now: the template fails for it, before anything is sent
    fs.writeFileSync(
      data,
      lines([{ id: "rec-1", text: "record 1" }, { id: "rec-2" }, { id: "rec-3", text: "3" }]),
    );
    expect(await run()).toEqual({ code: 3, ids: ["rec-1", "rec-3"] });
    const errors = readJsonl(path.join(dir, "out/errors.jsonl")) as { id: string; error: { code: string } }[];
    expect(errors.map((e) => [e.id, e.error.code])).toEqual([["rec-2", "template_error"]]);
  }, 120_000);
});
