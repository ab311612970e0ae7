// `batchpipe try` on records of megabytes: it printed each request and answer whole (5,000,620
// characters for one 5 MB record in a tester's run). What it prints cuts long texts and lists, and
// says so; `--json` still gives them whole.
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { batchpipe, tempDir } from "./support/harness.js";

describe("batchpipe try with long values", () => {
  it("a 1 MB record's request and answer are cut in the printout, whole in --json", async () => {
    const dir = tempDir("bp-scale-try-");
    const text = `${"abcdefghij".repeat(100_000)}END`;
    fs.writeFileSync(
      path.join(dir, "data.jsonl"),
      `${JSON.stringify({ id: "big", text })}\n${JSON.stringify({ id: "small", text: "hello" })}\n`,
    );
    fs.writeFileSync(
      path.join(dir, "pipeline.yaml"),
      [
        "version: 1",
        "name: scale-try",
        "provider: { use: emulator }",
        "source: { use: jsonl, path: ./data.jsonl }",
        "transform:",
        '  id: "{{ id }}"',
        "  body:",
        "    model: gpt-4o-mini",
        '    messages: [{ role: user, content: "{{ text }}" }]',
        "sinks: [{ use: jsonl, path: ./out/results.jsonl }]",
        "",
      ].join("\n"),
    );
    const run = await batchpipe(["try", "pipeline.yaml", "-n", "2"], { cwd: dir });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout.length).toBeLessThan(12_000);
    const shown = run.stdout
      .replace(/(abcdefghij)+/g, "abc…j")
      .replace(/ \d+ ms · .*$/gm, " N ms · …")
      .replace(/^2 records tried.*\n/m, "");
    expect(shown).toMatchInlineSnapshot(`
      "── big (data.jsonl:1) ──────────────────────────────────────────────────
      request  POST /v1/chat/completions
        {
          "model": "gpt-4o-mini",
          "messages": [
            {
              "role": "user",
              "content": "abc…j… [998,003 more characters]"
            }
          ]
        }
      answer   ✔ N ms · …
        abc…j… [998,003 more characters]
        (long values are cut here; \`--json\` prints them whole)

      ── small (data.jsonl:2) ────────────────────────────────────────────────
      request  POST /v1/chat/completions
        {"model":"gpt-4o-mini","messages":[{"role":"user","content":"hello"}]}
      answer   ✔ N ms · …
        hello

      nothing was written (no run state, no sinks); \`batchpipe plan\` shows the batch cost of the whole dataset
      "
    `);

    const json = await batchpipe(["try", "pipeline.yaml", "-n", "1", "--json"], { cwd: dir });
    const item = json.stdout
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l))[0];
    expect(item.request.body.messages[0].content).toBe(text);
    expect(item.output.output).toBe(text);

    // an embedding's answer: 1,536 numbers, 20 of them shown
    const spec = fs.readFileSync(path.join(dir, "pipeline.yaml"), "utf8");
    fs.writeFileSync(
      path.join(dir, "embed.yaml"),
      spec
        .replace('  id: "{{ id }}"', '  endpoint: /v1/embeddings\n  id: "{{ id }}"')
        .replace("    model: gpt-4o-mini", "    model: text-embedding-3-small")
        .replace('    messages: [{ role: user, content: "{{ text }}" }]', '    input: "{{ text }}"'),
    );
    const embed = await batchpipe(["try", "embed.yaml", "--ids", "small"], { cwd: dir });
    expect(embed.code, embed.stderr).toBe(0);
    expect(embed.stdout.length).toBeLessThan(2_000);
    expect(embed.stdout).toContain('"… [1,516 more items]"');
    expect(embed.stdout).toContain("(long values are cut here; `--json` prints them whole)");
  });
});
