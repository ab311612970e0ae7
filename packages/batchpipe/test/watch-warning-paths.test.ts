// watch printed its runs' source warnings naming the file's snapshot by its absolute path
// (`/…/.batchpipe/<name>/watch/snapshots/<hash>.csv:2: the file holds bytes that are not valid
// UTF-8`), a file the user never made; failure rows already named the user's file. Warnings now
// name it too, from the current folder, as `run` and `plan` do.
import fs from "node:fs";
import path from "node:path";
import { expect, it } from "vitest";
import { batchpipe, writeFiles } from "./support/harness.js";

it("watch names a warning's file from the current folder, as run does", async () => {
  const dir = writeFiles({
    "pipeline.yaml": [
      "version: 1",
      "name: latin-watch",
      "provider: { use: emulator, emulator: { timeScale: 3600 } }",
      "source: { use: csv, path: ./inbox/ }",
      "transform:",
      '  id: "{{ id }}"',
      '  body: { model: gpt-4o-mini, messages: [{ role: user, content: "{{ text }}" }] }',
      "batch: { poll_interval: 50ms }",
      "sinks: [{ use: jsonl, path: ./out/results.jsonl, fields: [id, output] }]",
      "",
    ].join("\n"),
  });
  fs.mkdirSync(path.join(dir, "inbox"));
  // "café" in Windows-1252: the csv source warns that the file is not UTF-8
  const csv = Buffer.concat([Buffer.from("id,text\n1,caf"), Buffer.from([0xe9]), Buffer.from("\n")]);
  fs.writeFileSync(path.join(dir, "inbox", "a.csv"), csv);
  const watch = await batchpipe(["watch", "pipeline.yaml", "--once"], { cwd: dir, timeoutMs: 60_000 });
  expect(watch.code, watch.stderr).toBe(0);
  const output = watch.stdout + watch.stderr;
  const warning = output.split("\n").find((line) => line.includes("not valid UTF-8"));
  expect(warning).toMatch(/^ {2}⚠ inbox\/a\.csv:2: the file holds bytes that are not valid UTF-8/);
});
