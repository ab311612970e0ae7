// The watch group source (several files read through the pipeline's source) against the source
// conformance suite: its cursor { file, cursor } must resume inside the file a read stopped in.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "vitest";
import { officialPlugins } from "../../batchpipe/test/support/harness.js";
import { defineSource, z } from "../src/plugin.js";
import { testSource } from "../src/testing/index.js";
import { createGroupSource } from "../src/watch/group-plugins.js";

const jsonl = officialPlugins.source!.jsonl!;

const group = defineSource({
  name: "watch-group",
  options: z.strictObject({ files: z.array(z.string()).min(1) }),
  read(ctx) {
    const files = ctx.options.files.map((file) => {
      const path = ctx.resolvePath(file);
      return { path, snapshot: path, sha: "", size: 0 };
    });
    const source = createGroupSource(
      { plugin: jsonl, options: {}, use: "jsonl", label: "source:jsonl" },
      files,
    );
    return source.plugin.read({ ...ctx, options: jsonl.options.parse({ path: files[0]!.snapshot }) });
  },
});

const checks = testSource(group, {
  // the records split over three files (one of them empty), so resumes land in each
  writeFixture: (dir, records) => {
    const third = Math.ceil(records.length / 3);
    const parts = [records.slice(0, third), [], records.slice(third, 2 * third), records.slice(2 * third)];
    const files = parts.map((part, i) => {
      writeFileSync(join(dir, `in-${i}.jsonl`), part.map((record) => `${JSON.stringify(record)}\n`).join(""));
      return `in-${i}.jsonl`;
    });
    return { files };
  },
  invalidOptions: [{ options: { files: [] }, path: ["files"] }],
});

for (const check of checks) test(check.name, check.run);
