import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { testSource } from "@batchpipe/core/testing";
import { test } from "vitest";
import source from "../src/index.js";

const checks = testSource(source, {
  writeFixture: (dir, records) => {
    writeFileSync(join(dir, "in.jsonl"), records.map((record) => `${JSON.stringify(record)}\n`).join(""));
    return { path: "in.jsonl" };
  },
  invalidOptions: [
    { options: {}, path: ["path"] },
    { options: { path: "x.jsonl", on_invalid: "ignore" }, path: ["on_invalid"] },
  ],
});

for (const check of checks) test(check.name, check.run);
