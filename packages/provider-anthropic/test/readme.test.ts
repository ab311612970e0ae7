import { readFileSync } from "node:fs";
import { expect, test } from "vitest";
import { readmePath, renderReadme } from "../../../scripts/gen-plugin-docs.mjs";
import plugin from "../src/index.js";

test("the README's options table matches the options schema", () => {
  const readme = readFileSync(readmePath("provider-anthropic"), "utf8");
  expect(renderReadme(readme, plugin.options), "stale: run node scripts/gen-plugin-docs.mjs").toBe(readme);
});
