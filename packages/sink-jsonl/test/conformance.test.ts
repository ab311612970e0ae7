import { readFileSync } from "node:fs";
import { join } from "node:path";
import { testSink } from "@batchpipe/core/testing";
import { test } from "vitest";
import sink from "../src/index.js";

const checks = testSink(sink, {
  makeOptions: () => ({ path: "out/results.jsonl" }),
  readBack: (options, dir) =>
    readFileSync(join(dir, options.path), "utf8")
      .split("\n")
      .filter((line) => line !== "")
      .map((line) => JSON.parse(line)),
  invalidOptions: [
    { options: {}, path: ["path"] },
    { options: { path: 42 }, path: ["path"] },
    // "-" is standard input to the sources; here it was a file named "-"
    { options: { path: "-" }, path: ["path"] },
  ],
});

for (const check of checks) test(check.name, check.run);
