// A rerun with fewer `columns:` upserts each row by id but writes only the columns it lists: a
// column an earlier run wrote keeps that run's value beside this run's output. sink-sqlite warns
// at open (its columns-left-stale test); sink-postgres said nothing: run 1 with
// [output, { tokens: usage.total_tokens }], run 2 with [output], and every row showed run 2's
// output with run 1's token count. The open now warns as sqlite's does, naming the columns and
// what to do.
import fs from "node:fs";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { batchpipe, tempDir } from "../../batchpipe/test/support/harness.js";
import { sharedPostgres, URL_REF } from "./support/postgres-server.mjs";

let server: Awaited<ReturnType<typeof sharedPostgres>>;
beforeAll(async () => {
  server = await sharedPostgres();
});

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
    `sinks: [{ use: postgres, ${URL_REF}, table: results, columns: ${columns} }]`,
    "",
  ].join("\n");
}

const warnings = (run: { events: { type: string; message?: unknown }[] }) =>
  run.events.filter((e) => e.type === "warning").map((e) => String(e.message));

describe("postgres columns a rerun no longer writes", () => {
  it("are named in a warning at open when the table holds rows; none on a fresh table or the same columns", async () => {
    const url = await server.createDatabase("stale_columns");
    const dir = tempDir("bp-pg-stale-");
    fs.writeFileSync(path.join(dir, "data.jsonl"), '{"id":1,"text":"a"}\n{"id":2,"text":"b"}\n');
    const write = (columns: string, prompt: string) =>
      fs.writeFileSync(path.join(dir, "pipeline.yaml"), spec(columns, prompt));
    const run = async () => {
      const result = await batchpipe(["run", "pipeline.yaml", "--json"], {
        cwd: dir,
        env: { DATABASE_URL: url },
      });
      expect(result.code, result.stderr).toBe(0);
      return warnings(result).filter((m) => m.startsWith("postgres sink"));
    };
    const rows = () =>
      server.query("SELECT output, tokens FROM results ORDER BY id", [], "stale_columns") as Promise<
        { output: string; tokens: string }[]
      >;
    write("[output, { tokens: usage.total_tokens }]", "v1");
    expect(await run()).toEqual([]);
    write("[output, { tokens: usage.total_tokens }]", "version two");
    expect(await run()).toEqual([]);
    const run2 = await rows();
    write("[output]", "version three, longer");
    expect(await run()).toEqual([
      'postgres sink "public"."results": columns: the table has the column tokens, which these columns do not write: the rows this run writes keep what an earlier run left there, which may not belong to their new output. List its entry in columns again, or drop it (ALTER TABLE "public"."results" DROP COLUMN "tokens")',
    ]);
    // what the warning is about: run 3's output beside run 2's token count
    expect(await rows()).toEqual([
      { output: "version three, longer a", tokens: run2[0]!.tokens },
      { output: "version three, longer b", tokens: run2[1]!.tokens },
    ]);
  }, 120_000);
});
