import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { expect, test } from "vitest";

const bin = fileURLToPath(new URL("../bin/batchpipe.js", import.meta.url));

test("the batchpipe bin runs from the committed shim", () => {
  expect(execFileSync(process.execPath, [bin, "--version"], { encoding: "utf8" })).toMatch(
    /^batchpipe \d+\.\d+\.\d+/,
  );
});
