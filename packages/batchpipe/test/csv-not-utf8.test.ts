// A CSV saved by Excel on Windows ("CSV (Comma delimited)") is Windows-1252, not UTF-8: "café" is
// the bytes 63 61 66 E9. Read as UTF-8 (the default), each such byte becomes U+FFFD, and the run
// used to send "caf�" to the model, and pay for it, without a word. The run now warns, once per
// file, at the first row with such a byte, and says to set `encoding: latin1`.
import { describe, expect, it } from "vitest";
import { batchpipe, readJsonl, writeFiles } from "./support/harness.js";

function spec(source: string): string {
  return [
    "version: 1",
    "name: latin",
    "provider: { use: emulator, emulator: { timeScale: 3600 } }",
    `source: ${source}`,
    "transform:",
    '  id: "{{ id }}"',
    '  body: { model: gpt-4o-mini, messages: [{ role: user, content: "{{ text }}" }] }',
    "batch: { poll_interval: 50ms }",
    "sinks: [{ use: jsonl, path: ./out/results.jsonl, fields: [id, output] }]",
    "",
  ].join("\n");
}

/** 400 id,text rows; row `at` (1-based) holds "café" in Windows-1252, the others ASCII, ~600 KB in all (reads are 256 KB) */
function latinCsv(at: number): Buffer {
  const parts: Buffer[] = [Buffer.from("id,text\n")];
  for (let i = 1; i <= 400; i++) {
    parts.push(Buffer.from(`${i},"row ${i} ${"x".repeat(1500)}, `));
    parts.push(i === at ? Buffer.from([0x63, 0x61, 0x66, 0xe9]) : Buffer.from("cafe"));
    parts.push(Buffer.from('"\n'));
  }
  return Buffer.concat(parts);
}

const warnings = (run: { events: { type: string; message?: unknown }[] }) =>
  run.events.filter((e) => e.type === "warning").map((e) => String(e.message));

describe("a CSV that is not UTF-8", () => {
  it("read as UTF-8: the run warns at the first row with such bytes and names encoding: latin1", async () => {
    const dir = writeFiles({
      "pipeline.yaml": spec("{ use: csv, path: ./data.csv }"),
      "data.csv": latinCsv(300),
    });
    const run = await batchpipe(["run", "pipeline.yaml", "--json"], { cwd: dir });
    expect(run.code, run.stderr).toBe(0);
    const notUtf8 = warnings(run).filter((m) => m.includes("UTF-8"));
    expect(notUtf8).toEqual([
      `${dir}/data.csv:301: the file holds bytes that are not valid UTF-8 (the first in this row), read as U+FFFD (�). If it is Latin-1 or Windows-1252 (a CSV saved by Excel on Windows), set \`encoding: latin1\` in the source and run again`,
    ]);
    const output = readJsonl<{ id: string; output: string }>(`${dir}/out/results.jsonl`);
    expect(output.find((r) => r.id === "300")?.output).toMatch(/caf\uFFFD$/);
  });

  it("with encoding: latin1, or a UTF-8 file whose characters span read chunks: no warning", async () => {
    let utf8 = "id,text\n";
    for (let i = 1; i <= 400; i++) utf8 += `${i},"row ${i} ${"é😀".repeat(300 + (i % 7))}"\n`;
    for (const [source, data] of [
      ["{ use: csv, path: ./data.csv, encoding: latin1 }", latinCsv(300)],
      ["{ use: csv, path: ./data.csv }", Buffer.from(utf8)],
    ] as const) {
      const dir = writeFiles({ "pipeline.yaml": spec(source), "data.csv": data });
      const run = await batchpipe(["run", "pipeline.yaml", "--json"], { cwd: dir });
      expect(run.code, run.stderr).toBe(0);
      expect(warnings(run).filter((m) => m.includes("UTF-8"))).toEqual([]);
    }
  });
});
