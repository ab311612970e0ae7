// Data files named in upper case (Windows shares, some exporters: B.CSV, EXPORT.CSV.GZ): a folder
// source skipped them without a word (it matched *.csv and *.csv.gz only), and a file named
// X.CSV.GZ was read as text, not gunzipped (0 records, "the source is empty"). The real CLI with
// plan over the csv and jsonl sources.
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";
import { expect, it } from "vitest";
import { cli, tempDir } from "./support/harness.js";

function spec(dir: string, source: string): string {
  const file = path.join(dir, "pipeline.yaml");
  fs.writeFileSync(
    file,
    [
      "version: 1",
      "name: upper",
      "provider: { use: emulator }",
      `source: ${source}`,
      "transform:",
      "  endpoint: /v1/chat/completions",
      '  id: "{{ id }}"',
      "  body: { model: gpt-4o-mini, messages: [{ role: user, content: '{{ text }}' }] }",
      "sinks: [{ use: jsonl, path: ./out/results.jsonl }]",
      "",
    ].join("\n"),
  );
  return file;
}

const readCount = (stdout: string) => Number(/plan for upper: (\d+) records?/.exec(stdout)?.[1]);

it("a folder's files in any case are read, and .GZ is gunzipped (csv)", async () => {
  const dir = tempDir("bp-upper-csv-");
  fs.mkdirSync(path.join(dir, "in"));
  fs.writeFileSync(path.join(dir, "in/a.csv"), "id,text\na1,one\n");
  fs.writeFileSync(path.join(dir, "in/B.CSV"), "id,text\nb1,two\nb2,three\n");
  fs.writeFileSync(path.join(dir, "in/C.CSV.GZ"), zlib.gzipSync("id,text\nc1,four\n"));
  const plan = await cli(["plan", spec(dir, "{ use: csv, path: ./in }")], { cwd: dir });
  expect(plan.code, plan.stderr).toBe(0);
  expect(readCount(plan.stdout)).toBe(4);
  const one = await cli(["plan", spec(dir, "{ use: csv, path: ./in/C.CSV.GZ }")], { cwd: dir });
  expect(one.code, one.stderr).toBe(0);
  expect(readCount(one.stdout)).toBe(1);
});

it("a folder's files in any case are read, and .GZ is gunzipped (jsonl)", async () => {
  const dir = tempDir("bp-upper-jsonl-");
  fs.mkdirSync(path.join(dir, "in"));
  fs.writeFileSync(path.join(dir, "in/a.jsonl"), '{"id":"a1","text":"one"}\n');
  fs.writeFileSync(path.join(dir, "in/B.JSONL.GZ"), zlib.gzipSync('{"id":"b1","text":"two"}\n'));
  const plan = await cli(["plan", spec(dir, "{ use: jsonl, path: ./in }")], { cwd: dir });
  expect(plan.code, plan.stderr).toBe(0);
  expect(readCount(plan.stdout)).toBe(2);
});
