import fs from "node:fs";
import { describe, expect, test } from "vitest";
import { batchpipe, cli, writeFiles } from "./support/harness.js";

describe("batchpipe validate", () => {
  test("a valid spec prints a one-line summary and exits 0", async () => {
    const dir = writeFiles({
      "pipeline.yaml": `version: 1
name: reviews
source: { use: jsonl, path: ./data/reviews.jsonl }
transform:
  body:
    model: gpt-4o-mini
    messages: [{ role: user, content: "Classify: {{ text }}" }]
sinks:
  - { use: jsonl, path: ./out/results.jsonl }
  - { use: sqlite, path: ./out/results.db, table: sentiment }
`,
      "data/reviews.jsonl": `${JSON.stringify({ id: "r1", text: "great" })}\n`,
    });
    expect(
      await cli(["validate", "pipeline.yaml"], { cwd: dir, env: { OPENAI_API_KEY: "sk-test" } }),
    ).toMatchInlineSnapshot(`
      {
        "code": 0,
        "stderr": "",
        "stdout": "✓ pipeline.yaml is valid (source jsonl, transform prompt, 2 sinks, 1 errors sink)
      ",
      }
    `);
  });

  test("an unknown key, a wrong type and a missing variable are reported together with their positions", async () => {
    const dir = writeFiles({
      "pipeline.yaml": `version: 1
name: reviews
source:
  use: jsonl
  path: ./data/reviews.jsonl
transform:
  use: prompt
  body:
    model: \${MODEL}
    messages:
      - { role: user, content: "Classify: {{ text }}" }
batch:
  max_requests: many
  poll_intervall: 30s
sinks:
  - use: jsonl
    path: ./out/results.jsonl
`,
    });
    expect(await cli(["validate", "pipeline.yaml"], { cwd: dir })).toMatchInlineSnapshot(`
      {
        "code": 2,
        "stderr": "pipeline.yaml:9:12 transform.body.model: environment variable MODEL is not set
         7 |   use: prompt
         8 |   body:
      >  9 |     model: \${MODEL}
           |            ^^^^^^^^
        10 |     messages:
        11 |       - { role: user, content: "Classify: {{ text }}" }
        hint: export MODEL=... before running, or give a default: \${MODEL:-value}

      pipeline.yaml:13:17 batch.max_requests: expected a number, got a string
        11 |       - { role: user, content: "Classify: {{ text }}" }
        12 | batch:
      > 13 |   max_requests: many
           |                 ^^^^
        14 |   poll_intervall: 30s
        15 | sinks:
        hint: Requests per batch, at most the provider's limit (OpenAI: 50000); unset: 6250 in the first batch, then 12500.

      pipeline.yaml:14:3 batch.poll_intervall: unknown key "poll_intervall"
        12 | batch:
        13 |   max_requests: many
      > 14 |   poll_intervall: 30s
           |   ^^^^^^^^^^^^^^
        15 | sinks:
        16 |   - use: jsonl
        hint: did you mean "poll_interval"?

      ✖ pipeline.yaml has 3 problems (SPEC_INVALID)
      ",
        "stdout": "",
      }
    `);
  });

  test("a YAML syntax error is reported at its line and column", async () => {
    const dir = writeFiles({
      "pipeline.yaml": `version: 1
name: reviews
source:
  use: jsonl
   path: ./data/reviews.jsonl
sinks:
  - { use: jsonl, path: ./out/results.jsonl }
`,
    });
    expect(await cli(["validate", "pipeline.yaml"], { cwd: dir })).toMatchInlineSnapshot(`
      {
        "code": 2,
        "stderr": "pipeline.yaml:4:8 Nested mappings are not allowed in compact mappings
        2 | name: reviews
        3 | source:
      > 4 |   use: jsonl
          |        ^
        5 |    path: ./data/reviews.jsonl
        6 | sinks:
        hint: a key has both a value and a nested mapping: check the indentation of the line below

      ✖ pipeline.yaml has a problem (SPEC_INVALID)
      ",
        "stdout": "",
      }
    `);
  });

  test("an inline api key is reported without printing the key", async () => {
    const dir = writeFiles({
      "pipeline.yaml": `version: 1
name: reviews
provider: { use: openai, api_key: sk-live-0123456789abcdef }
source: { use: jsonl, path: in.jsonl }
transform: { body: { model: m, messages: [] } }
sinks: [{ use: jsonl, path: out.jsonl }]
`,
      "in.jsonl": "",
    });
    const result = await cli(["validate", "pipeline.yaml"], { cwd: dir });
    expect(result.stderr).not.toContain("0123456789abcdef");
    expect(result).toMatchInlineSnapshot(`
      {
        "code": 2,
        "stderr": "pipeline.yaml:3:35 provider.api_key: must be a \${VAR} reference, not the key itself (the value is hidden here)
        1 | version: 1
        2 | name: reviews
      > 3 | provider: { use: openai, api_key: ************************ }
          |                                   ^^^^^^^^^^^^^^^^^^^^^^^^
        4 | source: { use: jsonl, path: in.jsonl }
        5 | transform: { body: { model: m, messages: [] } }
        hint: put the key in an environment variable and write api_key: \${OPENAI_API_KEY}; revoke the key if this file was shared

      ✖ pipeline.yaml has a problem (SPEC_INVALID)
      ",
        "stdout": "",
      }
    `);
    const allowed = await cli(["validate", "pipeline.yaml", "--allow-inline-secrets"], { cwd: dir });
    expect(allowed.code).toBe(0);
  });

  test("a missing file is a usage error", async () => {
    const dir = writeFiles({});
    const result = await cli(["validate", "nope.yaml"], { cwd: dir });
    expect(result.code).toBe(2);
    expect(result.stderr.replaceAll(dir, "<root>")).toMatchInlineSnapshot(`
      "✖ cannot read the pipeline file nope.yaml: there is no such file (SPEC_INVALID)
        hint: Check the path (a relative one is read from the current folder), or write a pipeline with \`batchpipe init\`.
      "
    `);
  });
});

describe("the command line frame", () => {
  test("an unknown command exits 2 with a suggestion", async () => {
    expect(await cli(["valdate", "pipeline.yaml"])).toMatchInlineSnapshot(`
      {
        "code": 2,
        "stderr": "✖ unknown command "valdate" (USAGE)
        hint: did you mean "validate"?
      ",
        "stdout": "",
      }
    `);
  });

  test("an unknown option exits 2 with a suggestion", async () => {
    expect(await cli(["validate", "--allow-inline-secret", "x.yaml"])).toMatchInlineSnapshot(`
      {
        "code": 2,
        "stderr": "✖ unknown option --allow-inline-secret for validate (did you mean --allow-inline-secrets?) (USAGE)
        hint: see \`batchpipe validate --help\`
      ",
        "stdout": "",
      }
    `);
  });

  // `logs -n 3` said "did you mean --f?": any letter is one edit from -f, and the alias -f was
  // offered as a long option; a one-letter option now gets no suggestion, a long one only long names
  test("a mistyped one-letter option gets no suggestion; a long one is never offered a letter", async () => {
    const dir = writeFiles({});
    const short = await batchpipe(["logs", "pipeline.yaml", "-n", "3"], { cwd: dir });
    expect({ code: short.code, stderr: short.stderr }).toMatchInlineSnapshot(`
      {
        "code": 2,
        "stderr": "✖ unknown option -n for logs (USAGE)
        hint: see \`batchpipe logs --help\`
      ",
      }
    `);
    const long = await batchpipe(["logs", "pipeline.yaml", "--fo"], { cwd: dir });
    expect(long.stderr).toMatch(/^✖ unknown option --fo for logs \(USAGE\)\n/);
    const typo = await batchpipe(["logs", "pipeline.yaml", "--folow"], { cwd: dir });
    expect(typo.stderr).toMatch(/^✖ unknown option --folow for logs \(did you mean --follow\?\) \(USAGE\)\n/);
  });

  // the text named no code for command-line mistakes, unlike every other error (the --json event did)
  test("an option before any command exits 2 naming USAGE, after the program's usage", async () => {
    const result = await cli(["--bogus"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^Run datasets/);
    expect(result.stderr).toMatch(
      /\n✖ unknown option --bogus \(USAGE\)\n {2}hint: a command comes first; `batchpipe <command> --help` lists its options\n$/,
    );
  });

  // before, `--state-dir` alone was ignored (the default state), and `--state-dir --force` ran in
  // a folder named --force without --force: a fresh state, so a fresh cache, every request paid again
  test("a flag that takes a value, given none, exits 2 before anything runs", async () => {
    const dir = writeFiles({});
    for (const args of [
      ["run", "x.yaml", "--state-dir"],
      ["run", "x.yaml", "--state-dir", "--force"],
      ["status", "x.yaml", "--state-dir", "--json"],
      ["runs", "x.yaml", "--limit"],
      ["try", "x.yaml", "-n", "--ids", "a"],
    ]) {
      const result = await cli(args, { cwd: dir });
      expect({ args, code: result.code }).toEqual({ args, code: 2 });
      expect(result.stderr).toMatch(
        /^✖ (--state-dir needs a folder|--limit needs a value|-n needs a value) after it \(USAGE\)\n/,
      );
    }
    expect(fs.readdirSync(dir)).toEqual([]);
    // a value may be `-` or a negative number, or follow `=` (these get as far as reading x.yaml)
    for (const args of [
      ["runs", "x.yaml", "--limit", "-1"],
      ["runs", "x.yaml", "--limit=--x"],
      ["status", "x.yaml", "--state-dir", "-"],
    ]) {
      expect((await cli(args, { cwd: dir })).stderr, args.join(" ")).toMatch(
        /^✖ cannot read the pipeline file/,
      );
    }
  });

  test("a missing argument exits 2", async () => {
    const result = await cli(["validate"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatchInlineSnapshot(`
      "✖ Missing required positional argument: PIPELINE (USAGE)
        hint: see \`batchpipe validate --help\`
      "
    `);
  });

  test("--help works for the program and every command", async () => {
    const main = await cli(["--help"]);
    expect(main.code).toBe(0);
    expect(main.stdout).toContain("validate");
    for (const command of ["validate", "schema"]) {
      const help = await cli([command, "--help"]);
      expect(help.code).toBe(0);
      expect(help.stdout).toContain(`batchpipe ${command}`);
    }
  });

  // citty pads every row of a table to the longest: watch's description made each line of
  // `batchpipe --help` 234 columns wide, broken in two with a run of blanks on an 80-column terminal
  test("help is wrapped to the terminal's width (80 when not a terminal), each description under itself", async () => {
    const { COMMANDS, runCli } = await import("../src/run-cli.js");
    for (const [width, stdout] of [
      [80, { isTTY: false, columns: 200 }],
      [60, { isTTY: true, columns: 60 }],
    ] as const) {
      for (const args of [["--help"], ...Object.keys(COMMANDS).map((name) => [name, "--help"])]) {
        let text = "";
        const write = (chunk: string) => (text += chunk);
        expect(await runCli(args, { env: {}, io: { stdout: { ...stdout, write }, stderr: { write } } })).toBe(
          0,
        );
        for (const line of text.split("\n")) {
          expect(line, `${args.join(" ")}: trailing blanks`).toBe(line.trimEnd());
          // only a single word longer than the width (the list of commands) may stick out
          if (line.trim().includes(" "))
            expect(line.length, `${args.join(" ")} at ${width}: ${line}`).toBeLessThanOrEqual(width);
        }
        if (args[0] === "--help") {
          const rows = text.split("\n");
          const watch = rows.findIndex((line) => /^ +watch {4}Watch the source/.test(line));
          const column = rows[watch]!.indexOf("Watch the source");
          // the continuation lines start at the description's column
          expect(rows[watch + 1]!.search(/\S/)).toBe(column);
          expect(text.replace(/\n +/g, " ")).toContain(
            "a record whose id an earlier file delivered fails as duplicate_id (errors sink)",
          );
        }
      }
    }
  });

  // a boolean `cache` defaulting to true listed `--cache` (which did nothing) and a bare `--no-cache`
  test("run, plan and watch list --no-cache alone, with its meaning; --cache is refused", async () => {
    for (const command of ["run", "plan", "watch"]) {
      const help = await cli([command, "--help"]);
      expect(help.code).toBe(0);
      // a description wraps under itself (usage-text.ts): join its lines back
      const rows = help.stdout.replace(/\n {20,}/g, " ");
      const lines = rows.split("\n").filter((line) => /--(no-)?cache\b/.test(line));
      expect(lines, command).toHaveLength(1);
      expect(lines[0]!.trim()).toMatch(/^--no-cache +\S.*none answered from the result cache/);
      expect(lines[0]).not.toContain("Default");
    }
    expect(await cli(["run", "x.yaml", "--cache"])).toMatchObject({
      code: 2,
      stderr: expect.stringContaining("unknown option --cache for run (did you mean --no-cache?)"),
    });
  });

  test("--version prints the package version", async () => {
    expect((await cli(["--version"])).stdout).toMatch(/^batchpipe \d+\.\d+\.\d+\n$/);
  });

  test("colour only when asked for and not under NO_COLOR", async () => {
    const dir = writeFiles({ "pipeline.yaml": "version: 2\n" });
    const forced = await cli(["validate", "pipeline.yaml"], { cwd: dir, env: { FORCE_COLOR: "1" } });
    expect(forced.stderr).toContain("\u001b[");
    const plain = await cli(["validate", "pipeline.yaml"], {
      cwd: dir,
      env: { FORCE_COLOR: "1", NO_COLOR: "1" },
    });
    expect(plain.stderr).not.toContain("\u001b[");
  });
});

describe("the built binary", () => {
  test("bin/batchpipe.js validate exits 2 on an invalid spec and prints to stderr", async () => {
    const dir = writeFiles({ "pipeline.yaml": "version: 1\nname: x\nsinks: []\n" });
    const result = await batchpipe(["validate", "pipeline.yaml"], { cwd: dir });
    expect(result.code).toBe(2);
    expect(result.stdout).toBe("");
    expect(result.stderr).toMatchInlineSnapshot(`
      "pipeline.yaml:1:1 source: is required (expected a mapping)
      > 1 | version: 1
          | ^^^^^^^^^^
        2 | name: x
        3 | sinks: []
        hint: Where records come from.

      pipeline.yaml:1:1 transform.body: is required (expected a mapping)
      > 1 | version: 1
          | ^^^^^^^^^^
        2 | name: x
        3 | sinks: []
        hint: no transform is given, so the default \`prompt\` transform is used: give it a body (the request template)

      pipeline.yaml:3:8 sinks: expected at least one sink
        1 | version: 1
        2 | name: x
      > 3 | sinks: []
          |        ^^
        hint: Where successes go, each exactly once, in every sink.

      ✖ pipeline.yaml has 3 problems (SPEC_INVALID)
      "
    `);
  });
});
