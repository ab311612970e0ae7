import { expect, test } from "vitest";
import { batchpipe } from "./support/harness.js";

test("the batchpipe bin runs from the committed shim", async () => {
  const run = await batchpipe(["--version"]);
  expect(run.code, run.stderr).toBe(0);
  expect(run.stdout).toMatch(/^batchpipe \d+\.\d+\.\d+/);
});
