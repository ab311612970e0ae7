// A rerun with fewer `columns:` upserts each row by id but writes only the columns it lists: a
// column an earlier run wrote keeps that run's value beside this run's output. Seen: run 1 with
// [output, { tokens: usage.total_tokens }], run 2 (a longer prompt) with [output]: every row showed
// run 2's output with run 1's token count, and nothing said so. The open now warns, naming the
// columns and what to do.
import { writeFileSync } from "node:fs";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { batchpipe, writeFiles } from "../../batchpipe/test/support/harness.js";

function spec(columns: string, prompt: string): string {
  return [
    "version: 1",
    "name: stale",
    "provider: { use: emulator, emulator: { timeScale: 3600 } }",
    "source: { use: jsonl, path: ./data.jsonl }",
    "transform:",
    '  id: "{{ id }}"',
    `  body: { model: gpt-4o-mini, messages: [{ role: user, content: "${prompt} {{ text }}" }] }`,
    "batch: { poll_interval: 50ms }",
    `sinks: [{ use: sqlite, path: ./out/r.db, columns: ${columns} }]`,
    "",
  ].join("\n");
}

const warnings = (run: { events: { type: string; message?: unknown }[] }) =>
  run.events.filter((e) => e.type === "warning").map((e) => String(e.message));

describe("sqlite columns a rerun no longer writes", () => {
  it("are named in a warning at open when the table holds rows; none on a fresh table or the same columns", async () => {
    const dir = writeFiles({
      "pipeline.yaml": spec("[output, { tokens: usage.total_tokens }]", "v1"),
      "data.jsonl": '{"id":1,"text":"a"}\n{"id":2,"text":"b"}\n',
    });
    const run = async () => {
      const result = await batchpipe(["run", "pipeline.yaml", "--json"], { cwd: dir });
      expect(result.code, result.stderr).toBe(0);
      return warnings(result).filter((m) => m.startsWith("sqlite sink"));
    };
    expect(await run()).toEqual([]);
    writeFileSync(`${dir}/pipeline.yaml`, spec("[output, { tokens: usage.total_tokens }]", "version two"));
    expect(await run()).toEqual([]);
    const tokens = () => {
      const db = new Database(`${dir}/out/r.db`, { readonly: true });
      const rows = db.prepare("select output, tokens from results order by id").all();
      db.close();
      return rows;
    };
    const run2 = tokens() as { tokens: number }[];
    writeFileSync(`${dir}/pipeline.yaml`, spec("[output]", "version three, longer"));
    expect(await run()).toEqual([
      'sqlite sink ./out/r.db (table results): columns: the table has the column tokens, which these columns do not write: the rows this run writes keep what an earlier run left there, which may not belong to their new output. List its entry in columns again, or drop it (ALTER TABLE "results" DROP COLUMN "tokens")',
    ]);
    // what the warning is about: run 3's output beside run 2's token count
    expect(tokens()).toEqual([
      { output: "version three, longer a", tokens: run2[0]!.tokens },
      { output: "version three, longer b", tokens: run2[1]!.tokens },
    ]);
  });
});
