// docs/errors.md: "With `--json`, an error that stops a command is also an event on stdout". The
// flags a command checks itself (`runs --limit`, `try -n`) wrote their usage error to stderr only.
import { describe, expect, test } from "vitest";
import { cli, writeFiles } from "./support/harness.js";

const SPEC = `version: 1
name: json-usage
provider: { use: emulator }
source: { use: jsonl, path: ./data.jsonl }
transform:
  body: { model: gpt-4o-mini, messages: [{ role: user, content: "{{ text }}" }] }
sinks:
  - { use: jsonl, path: ./out/results.jsonl }
`;

describe("a usage error of a command's own flag under --json", () => {
  const dir = writeFiles({ "pipeline.yaml": SPEC, "data.jsonl": '{"id":"a","text":"x"}\n' });

  test("runs --limit x: an error event on stdout, the message on stderr, exit 2", async () => {
    expect(
      await cli(["runs", "pipeline.yaml", "--json", "--limit", "x"], { cwd: dir }),
    ).toMatchInlineSnapshot(`
      {
        "code": 2,
        "stderr": "✖ --limit expects a whole number of runs, got x (USAGE)
        hint: Give how many runs to list, newest first, e.g. --limit 10.
      ",
        "stdout": "{"type":"error","code":"USAGE","message":"--limit expects a whole number of runs, got x","hint":"Give how many runs to list, newest first, e.g. --limit 10.","exitCode":2}
      ",
      }
    `);
  });

  test("try -n 0: an error event on stdout, the message on stderr, exit 2", async () => {
    expect(await cli(["try", "pipeline.yaml", "--json", "-n", "0"], { cwd: dir })).toMatchInlineSnapshot(`
      {
        "code": 2,
        "stderr": "✖ -n expects a number of records from 1 to 100, got 0 (USAGE)
        hint: Give how many records to send from the first, e.g. -n 5 (or name them with --ids).
      ",
        "stdout": "{"type":"error","code":"USAGE","message":"-n expects a number of records from 1 to 100, got 0","hint":"Give how many records to send from the first, e.g. -n 5 (or name them with --ids).","exitCode":2}
      ",
      }
    `);
  });

  test("without --json: the message and its hint on stderr only", async () => {
    expect(await cli(["runs", "pipeline.yaml", "--limit", "0"], { cwd: dir })).toMatchInlineSnapshot(`
      {
        "code": 2,
        "stderr": "✖ --limit expects a whole number of runs, got 0 (USAGE)
        hint: Give how many runs to list, newest first, e.g. --limit 10.
      ",
        "stdout": "",
      }
    `);
  });
});
