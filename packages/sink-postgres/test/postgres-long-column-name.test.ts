// PostgreSQL keeps the first 63 bytes of a name. A `columns` entry named longer ({ <70 characters>:
// output }) made the table with the cut name, which the sink never matched: the run succeeded, the
// column was NULL in every row, and a rerun warned that the table had a column these columns did
// not write. validate and run now refuse such a name at the entry (SPEC_INVALID) before anything
// connects; a name of 63 characters is written. The real CLI against the shared server.
import fs from "node:fs";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { batchpipe, tempDir } from "../../batchpipe/test/support/harness.js";
import { sharedPostgres, URL_REF } from "./support/postgres-server.mjs";

let server: Awaited<ReturnType<typeof sharedPostgres>>;
beforeAll(async () => {
  server = await sharedPostgres();
});

const LONG = "answer_text_from_the_model_for_this_particular_review_record_long"; // 65
const FITS = LONG.slice(0, 63);

function pipeline(dir: string, name: string): void {
  fs.writeFileSync(path.join(dir, "data.jsonl"), '{"id":1,"text":"a"}\n');
  const spec = [
    "version: 1",
    "name: long-names",
    "provider: { use: emulator, emulator: { timeScale: 3600 } }",
    "source: { use: jsonl, path: ./data.jsonl }",
    "transform:",
    '  id: "{{ id }}"',
    '  body: { model: gpt-4o-mini, messages: [{ role: user, content: "{{ text }}" }] }',
    "batch: { poll_interval: 50ms }",
    `sinks: [{ use: postgres, ${URL_REF}, table: answers, columns: [{ ${name}: output }] }]`,
    "",
  ];
  fs.writeFileSync(path.join(dir, "pipeline.yaml"), spec.join("\n"));
}

describe("postgres column names past 63 characters", () => {
  it("are refused by validate and run before anything connects; 63 characters are written", async () => {
    const url = await server.createDatabase("long_column_names");
    const dir = tempDir("bp-pg-long-");
    const as = { cwd: dir, env: { DATABASE_URL: url } };
    pipeline(dir, LONG);
    const validate = await batchpipe(["validate", "pipeline.yaml"], as);
    expect(validate.code, validate.stderr).toBe(2);
    expect(validate.stderr).toContain(
      `pipeline.yaml:9:75 sinks[0].columns: the column name "${LONG}" has 65 characters: PostgreSQL keeps the first 63 of a name, so the sink could not write it`,
    );
    expect(validate.stderr).toContain(
      "hint: name it in 63 characters or fewer, e.g. { answer_text_from_the: output }",
    );
    const refused = await batchpipe(["run", "pipeline.yaml", "--json"], as);
    expect(refused.code, refused.stderr).toBe(2);
    expect(refused.events.find((e) => e.type === "error")).toMatchObject({ code: "SPEC_INVALID" });
    expect(await server.query("SELECT to_regclass('answers') AS t", [], "long_column_names")).toEqual([
      { t: null },
    ]);

    pipeline(dir, FITS);
    const run = await batchpipe(["run", "pipeline.yaml", "--json"], as);
    expect(run.code, run.stderr).toBe(0);
    expect(
      await server.query(`SELECT id, "${FITS}" AS answer FROM answers`, [], "long_column_names"),
    ).toEqual([{ id: "1", answer: "a" }]);
  }, 120_000);
});
