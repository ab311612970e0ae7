// A record that succeeded in run 1 and failed before it was sent in run 2 (its prompt template now
// fails for it) kept run 1's success row in the table, which the sink upserts by id: 1 of 3 rows
// showed a success the latest run reports as template_error. Result sinks that keep rows across runs
// now drop the row (SinkHandle.forget), as they do for a request that fails at the provider, and the
// failure row is in the errors sink. sink-postgres has the same test (rerun-unsent-failure.test.ts).
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  batchpipe,
  type EmulatorProcess,
  readJsonl,
  readSqliteIds,
  startEmulatorProcess,
  startWatcher,
  tempDir,
  writePipeline,
} from "../../batchpipe/test/support/harness.js";

let emulator: EmulatorProcess;
beforeAll(async () => {
  emulator = await startEmulatorProcess();
});
afterAll(async () => {
  await emulator?.close();
});

const lines = (records: object[]) => records.map((r) => `${JSON.stringify(r)}\n`).join("");

describe("a rerun where a record fails before it is sent", () => {
  it("drops that record's earlier success row from the sqlite table", async () => {
    const dir = tempDir("bp-rerun-unsent-");
    const data = path.join(dir, "data.jsonl");
    const spec = writePipeline(dir, { baseUrl: emulator.url, name: "rerun-unsent", sinks: [], sqlite: true });
    const run = async () => {
      const result = await batchpipe(["run", spec, "--json"], { cwd: dir });
      return { code: result.code, ids: readSqliteIds(path.join(dir, "out/results.db")).sort() };
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

  // a later watched file's record of an id an earlier file delivered, whose template fails: that id
  // is the earlier file's, so the record is a duplicate_id and the earlier success row stays (had
  // the failure taken the id, the table would have lost a success no run took back)
  it("keeps an earlier watched file's success row when a later file's record of that id fails its template", async () => {
    const dir = tempDir("bp-rerun-unsent-watch-");
    fs.mkdirSync(path.join(dir, "inbox"));
    writePipeline(dir, {
      baseUrl: emulator.url,
      name: "rerun-unsent-watch",
      sinks: [],
      sqlite: true,
      source: "  { use: jsonl, path: ./inbox/ }",
    });
    const once = async () => (await startWatcher(dir, undefined, ["--once", "--settle", "200ms"]).done).code;
    fs.writeFileSync(
      path.join(dir, "inbox/a.jsonl"),
      lines([
        { id: "x", text: "x" },
        { id: "y", text: "y" },
      ]),
    );
    expect(await once()).toBe(0);
    fs.writeFileSync(path.join(dir, "inbox/b.jsonl"), lines([{ id: "x" }, { id: "z", text: "z" }]));
    expect(await once()).toBe(3);
    expect(readSqliteIds(path.join(dir, "out/results.db")).sort()).toEqual(["x", "y", "z"]);
    const errors = readJsonl(path.join(dir, "out/errors.jsonl")) as { id: string; error: { code: string } }[];
    expect(errors.map((e) => [e.id, e.error.code])).toEqual([["x", "duplicate_id"]]);
  }, 120_000);
});
