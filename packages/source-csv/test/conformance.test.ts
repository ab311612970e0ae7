import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { testSource } from "@batchpipe/core/testing";
import { test } from "vitest";
import source from "../src/index.js";

const checks = testSource(source, {
  writeFixture: (dir, records) => {
    const cell = (value: unknown) => {
      const text = typeof value === "string" ? value : JSON.stringify(value);
      return `"${text.replaceAll('"', '""')}"`;
    };
    const rows = records.map((record) =>
      [record.id, record.text, record.n, record.nested].map(cell).join(","),
    );
    writeFileSync(join(dir, "in.csv"), ["id,text,n,nested", ...rows].map((row) => `${row}\r\n`).join(""));
    return { path: "in.csv", types: { n: "integer", nested: "json" } };
  },
  invalidOptions: [
    { options: {}, path: ["path"] },
    { options: { path: "x.csv", on_invalid: "ignore" }, path: ["on_invalid"] },
    { options: { path: "x.csv", types: { n: "float" } }, path: ["types", "n"] },
    { options: { path: "x.csv", header: false }, path: ["columns"] },
    { options: { path: "x.csv", quote: "''" }, path: ["quote"] },
  ],
});

for (const check of checks) test(check.name, check.run);
