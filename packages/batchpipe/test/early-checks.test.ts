// Issue 13 item 9: a spec that cannot work is refused by `validate` and `run` before a record is
// read, at the place of the offending entry with the fix: two writers on one file, a sink on the
// source's input or inside the state folder, reserved SQLite tables, a missing input, a missing API
// key, an output folder that cannot be made. The plugins declare their paths with `check`.
import fs from "node:fs";
import path from "node:path";
import { describe, expect, test } from "vitest";
import { batchpipe, cli, records, writeFiles } from "./support/harness.js";

const HEAD = `version: 1
name: early
provider: { use: openai, base_url: "http://127.0.0.1:9/v1" }
source: { use: jsonl, path: ./data.jsonl }
transform:
  body: { model: gpt-4o-mini, messages: [{ role: user, content: "Say {{ text }}" }] }
`;

describe("checks before reading", () => {
  test("two writers on one file, a sink on the input or in the state folder, reserved sqlite tables", async () => {
    const dir = writeFiles({
      "data.jsonl": records(3),
      "pipeline.yaml": `${HEAD}sinks:
  - { use: jsonl, path: ./out/results.jsonl }
  - { use: jsonl, path: out/../out/results.jsonl }
  - { use: jsonl, path: ./data.jsonl }
  - { use: jsonl, path: ./.batchpipe/early/results.jsonl }
  - { use: sqlite, path: ./out/results.db, table: sqlite_stat1 }
  - { use: sqlite, path: ./out/results.db, table: _batchpipe_commits }
  - { use: sqlite, path: ./out/results.db, table: Labels }
  - { use: sqlite, path: ./out/results.db, table: labels }
errors:
  - { use: jsonl, path: ./out/results.jsonl }
`,
    });
    const validate = await cli(["validate", "pipeline.yaml"], {
      cwd: dir,
      env: { OPENAI_API_KEY: "sk-test" },
    });
    expect(validate).toMatchInlineSnapshot(`
      {
        "code": 2,
        "stderr": "pipeline.yaml:9:25 sinks[1].path: sinks[0] (jsonl) already writes out/results.jsonl
         7 | sinks:
         8 |   - { use: jsonl, path: ./out/results.jsonl }
      >  9 |   - { use: jsonl, path: out/../out/results.jsonl }
           |                         ^^^^^^^^^^^^^^^^^^^^^^^^
        10 |   - { use: jsonl, path: ./data.jsonl }
        11 |   - { use: jsonl, path: ./.batchpipe/early/results.jsonl }
        hint: give each sink (and each errors entry) its own file: two writers on one file overwrite each other

      pipeline.yaml:10:25 sinks[2].path: source (jsonl) reads data.jsonl: this sink would write over (or feed back into) its input
         8 |   - { use: jsonl, path: ./out/results.jsonl }
         9 |   - { use: jsonl, path: out/../out/results.jsonl }
      > 10 |   - { use: jsonl, path: ./data.jsonl }
           |                         ^^^^^^^^^^^^
        11 |   - { use: jsonl, path: ./.batchpipe/early/results.jsonl }
        12 |   - { use: sqlite, path: ./out/results.db, table: sqlite_stat1 }
        hint: write the output somewhere the source does not read

      pipeline.yaml:11:25 sinks[3].path: .batchpipe/early/results.jsonl is inside the state folder .batchpipe/early
         9 |   - { use: jsonl, path: out/../out/results.jsonl }
        10 |   - { use: jsonl, path: ./data.jsonl }
      > 11 |   - { use: jsonl, path: ./.batchpipe/early/results.jsonl }
           |                         ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
        12 |   - { use: sqlite, path: ./out/results.db, table: sqlite_stat1 }
        13 |   - { use: sqlite, path: ./out/results.db, table: _batchpipe_commits }
        hint: the state folder belongs to batchpipe: write the output elsewhere

      pipeline.yaml:12:51 sinks[4].table: "sqlite_stat1" is reserved: SQLite owns the names starting with sqlite_
        10 |   - { use: jsonl, path: ./data.jsonl }
        11 |   - { use: jsonl, path: ./.batchpipe/early/results.jsonl }
      > 12 |   - { use: sqlite, path: ./out/results.db, table: sqlite_stat1 }
           |                                                   ^^^^^^^^^^^^
        13 |   - { use: sqlite, path: ./out/results.db, table: _batchpipe_commits }
        14 |   - { use: sqlite, path: ./out/results.db, table: Labels }
        hint: name the table after what it holds, e.g. table: results

      pipeline.yaml:13:51 sinks[5].table: "_batchpipe_commits" is the sink's own bookkeeping table
        11 |   - { use: jsonl, path: ./.batchpipe/early/results.jsonl }
        12 |   - { use: sqlite, path: ./out/results.db, table: sqlite_stat1 }
      > 13 |   - { use: sqlite, path: ./out/results.db, table: _batchpipe_commits }
           |                                                   ^^^^^^^^^^^^^^^^^^
        14 |   - { use: sqlite, path: ./out/results.db, table: Labels }
        15 |   - { use: sqlite, path: ./out/results.db, table: labels }
        hint: name the table after what it holds, e.g. table: results

      pipeline.yaml:15:26 sinks[7].path: sinks[6] (sqlite) already writes "labels" in out/results.db
        13 |   - { use: sqlite, path: ./out/results.db, table: _batchpipe_commits }
        14 |   - { use: sqlite, path: ./out/results.db, table: Labels }
      > 15 |   - { use: sqlite, path: ./out/results.db, table: labels }
           |                          ^^^^^^^^^^^^^^^^
        16 | errors:
        17 |   - { use: jsonl, path: ./out/results.jsonl }
        hint: give each sink its own table (or file)

      pipeline.yaml:17:25 errors[0].path: sinks[0] (jsonl) already writes out/results.jsonl
        15 |   - { use: sqlite, path: ./out/results.db, table: labels }
        16 | errors:
      > 17 |   - { use: jsonl, path: ./out/results.jsonl }
           |                         ^^^^^^^^^^^^^^^^^^^
        hint: give each sink (and each errors entry) its own file: two writers on one file overwrite each other

      ✖ pipeline.yaml has 7 problems (SPEC_INVALID)
      ",
        "stdout": "",
      }
    `);
    const run = await batchpipe(["run", "pipeline.yaml", "--json"], { cwd: dir });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("has 7 problems (SPEC_INVALID)");
    // refused before reading: no state folder, nothing written
    expect(fs.existsSync(path.join(dir, ".batchpipe"))).toBe(false);
    expect(fs.existsSync(path.join(dir, "out"))).toBe(false);
  });

  test("a missing input, a missing API key and an output folder that cannot be made", async () => {
    const dir = writeFiles({
      blocker: "a file where a folder should be\n",
      "pipeline.yaml":
        HEAD.replace("./data.jsonl", "./inputs/data.jsonl") +
        `sinks:
  - { use: jsonl, path: ./blocker/results.jsonl }
  - { use: sqlite, path: ./out }
`,
    });
    fs.mkdirSync(path.join(dir, "out"));
    const validate = await cli(["validate", "pipeline.yaml"], { cwd: dir, env: {} });
    expect(validate).toMatchInlineSnapshot(`
      {
        "code": 2,
        "stderr": "pipeline.yaml:3:11 provider: no OpenAI API key: OPENAI_API_KEY is not set
        1 | version: 1
        2 | name: early
      > 3 | provider: { use: openai, base_url: "http://127.0.0.1:9/v1" }
          |           ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
        4 | source: { use: jsonl, path: ./inputs/data.jsonl }
        5 | transform:
        hint: export OPENAI_API_KEY=sk-... (or use provider: { use: emulator } to try batchpipe offline)

      pipeline.yaml:4:29 source.path: no such file or folder: inputs/data.jsonl
        2 | name: early
        3 | provider: { use: openai, base_url: "http://127.0.0.1:9/v1" }
      > 4 | source: { use: jsonl, path: ./inputs/data.jsonl }
          |                             ^^^^^^^^^^^^^^^^^^^
        5 | transform:
        6 |   body: { model: gpt-4o-mini, messages: [{ role: user, content: "Say {{ text }}" }] }
        hint: check the path; it is relative to the spec file

      pipeline.yaml:8:25 sinks[0].path: cannot create blocker/results.jsonl: blocker is a file, not a folder
        6 |   body: { model: gpt-4o-mini, messages: [{ role: user, content: "Say {{ text }}" }] }
        7 | sinks:
      > 8 |   - { use: jsonl, path: ./blocker/results.jsonl }
          |                         ^^^^^^^^^^^^^^^^^^^^^^^
        9 |   - { use: sqlite, path: ./out }
        hint: choose an output path in a folder you can write to

      pipeline.yaml:9:26 sinks[1].path: out is a folder, not a file
        7 | sinks:
        8 |   - { use: jsonl, path: ./blocker/results.jsonl }
      > 9 |   - { use: sqlite, path: ./out }
          |                          ^^^^^
        hint: name a file in it

      ✖ pipeline.yaml has 4 problems (SPEC_INVALID)
      ",
        "stdout": "",
      }
    `);
    const run = await batchpipe(["run", "pipeline.yaml"], { cwd: dir, env: { OPENAI_API_KEY: undefined } });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("has 4 problems (SPEC_INVALID)");
    expect(fs.existsSync(path.join(dir, ".batchpipe"))).toBe(false);
  });

  test("the default errors file in the state folder, a glob source and a key in the spec pass", async () => {
    const dir = writeFiles({
      "data/a.jsonl": records(2),
      "pipeline.yaml": `${HEAD.replace("./data.jsonl", "./data/*.jsonl").replace(
        'base_url: "http://127.0.0.1:9/v1" }',
        // biome-ignore lint/suspicious/noTemplateCurlyInString: the spec syntax
        'base_url: "http://127.0.0.1:9/v1", api_key: "${MY_KEY}" }',
      )}sinks:
  - { use: jsonl, path: ./out/results.jsonl }
  - { use: sqlite, path: ./out/results.db, table: a }
  - { use: sqlite, path: ./out/results.db, table: b }
`,
    });
    expect(
      await cli(["validate", "pipeline.yaml"], { cwd: dir, env: { MY_KEY: "sk-x" } }),
    ).toMatchInlineSnapshot(`
      {
        "code": 0,
        "stderr": "",
        "stdout": "✓ pipeline.yaml is valid (source jsonl, transform prompt, 3 sinks, 1 errors sink)
      ",
      }
    `);
  });

  test("a glob that matches no file is refused like a missing path (run records no run); watch starts on it", async () => {
    const dir = writeFiles({
      "inbox/notes.txt": "not a jsonl file\n",
      "pipeline.yaml": `${HEAD.replace("./data.jsonl", "./inbox/*.jsonl")}sinks:
  - { use: jsonl, path: ./out/results.jsonl }
`,
    });
    const validate = await cli(["validate", "pipeline.yaml"], {
      cwd: dir,
      env: { OPENAI_API_KEY: "sk-test" },
    });
    expect(validate.code).toBe(2);
    expect(validate.stderr).toContain("✖ pipeline.yaml has a problem (SPEC_INVALID)");
    expect(validate.stderr).toContain(
      "pipeline.yaml:4:29 source.path: no file matches the glob inbox/*.jsonl",
    );
    expect(validate.stderr).toContain("hint: check the path; it is relative to the spec file");
    expect(validate.stderr).toContain("(SPEC_INVALID)");
    const run = await batchpipe(["run", "pipeline.yaml"], { cwd: dir });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("source.path: no file matches the glob");
    // refused before the run starts: no stopped run in a state folder
    expect(fs.existsSync(path.join(dir, ".batchpipe"))).toBe(false);
    const watch = await batchpipe(["watch", "pipeline.yaml", "--once", "--settle", "200ms", "--json"], {
      cwd: dir,
    });
    expect(watch.code).toBe(0);
    expect(watch.events.map((event) => event.type)).toEqual(["watching", "summary"]);
  });

  test("the csv and parquet sources and the anthropic provider check their input and key too", async () => {
    const dir = writeFiles({
      "pipeline.yaml": `version: 1
name: early-more
provider: { use: anthropic }
source: { use: csv, path: ./missing.csv }
transform:
  body: { model: claude-haiku-4-5, max_tokens: 5, messages: [{ role: user, content: "{{ text }}" }] }
sinks:
  - { use: jsonl, path: ./out/results.jsonl }
`,
      "parquet.yaml": `version: 1
name: early-parquet
provider: { use: emulator }
source: { use: parquet, path: ./missing/ }
transform:
  body: { model: gpt-4o-mini, messages: [{ role: user, content: "{{ text }}" }] }
sinks:
  - { use: jsonl, path: ./out/results.jsonl }
`,
    });
    const csv = await cli(["validate", "pipeline.yaml"], { cwd: dir, env: {} });
    expect(csv.code).toBe(2);
    expect(csv.stderr).toContain(
      "pipeline.yaml:3:11 provider: no Anthropic API key: ANTHROPIC_API_KEY is not set",
    );
    expect(csv.stderr).toContain("pipeline.yaml:4:27 source.path: no such file or folder: missing.csv");
    const parquet = await cli(["validate", "parquet.yaml"], { cwd: dir, env: {} });
    expect(parquet.code).toBe(2);
    expect(parquet.stderr).toContain("parquet.yaml:4:31 source.path: no such file or folder: missing");
  });

  test("watch refuses a bad spec too, before it takes a file", async () => {
    const dir = writeFiles({
      "inbox/a.jsonl": records(2),
      "pipeline.yaml": `${HEAD.replace("./data.jsonl", "./inbox/")}sinks:
  - { use: jsonl, path: ./out/results.jsonl }
  - { use: jsonl, path: ./out/results.jsonl }
`,
    });
    const watch = await batchpipe(["watch", "pipeline.yaml", "--once"], { cwd: dir });
    expect(watch.code).toBe(2);
    expect(watch.stderr).toContain("sinks[1].path");
    expect(watch.stderr).toContain("give each sink (and each errors entry) its own file");
    // nothing taken: no state folder, no output
    expect(fs.existsSync(path.join(dir, ".batchpipe"))).toBe(false);
    expect(fs.existsSync(path.join(dir, "out"))).toBe(false);
  });
});
