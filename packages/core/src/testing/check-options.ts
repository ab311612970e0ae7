import assert from "node:assert/strict";
import type { z } from "zod";
import { type ConformanceCheck, type InvalidOptionsCase, withTempDir } from "./conformance.js";

/** Option checks shared by every kind: valid options parse, unknown keys are rejected, bad values are reported at their path. */
export function optionChecks(
  label: string,
  schema: z.ZodType,
  validOptions: (dir: string) => unknown,
  invalid: readonly InvalidOptionsCase[] = [],
): ConformanceCheck[] {
  const checks: ConformanceCheck[] = [
    {
      name: `${label}: valid options parse`,
      run: () =>
        withTempDir(async (dir) => {
          const result = schema.safeParse(await validOptions(dir));
          assert.ok(result.success, `the fixture's options do not parse: ${result.error?.message}`);
        }),
    },
    {
      name: `${label}: an unknown option is rejected at its key`,
      run: () =>
        withTempDir(async (dir) => {
          const options = { ...((await validOptions(dir)) as object), no_such_option: 1 };
          const result = schema.safeParse(options);
          assert.equal(result.success, false, "an unknown key was accepted; use z.strictObject");
          const issue = result.error!.issues.find((i) => i.code === "unrecognized_keys");
          assert.ok(issue, `expected an unrecognized_keys issue, got ${result.error!.message}`);
          assert.deepEqual(issue.keys, ["no_such_option"]);
        }),
    },
  ];
  for (const bad of invalid) {
    checks.push({
      name: `${label}: invalid option ${bad.path.join(".") || "(root)"} is reported at its path`,
      async run() {
        const result = schema.safeParse(bad.options);
        assert.equal(result.success, false, `accepted invalid options ${JSON.stringify(bad.options)}`);
        const paths = result.error!.issues.map((i) => i.path);
        assert.ok(
          paths.some((path) => JSON.stringify(path) === JSON.stringify(bad.path)),
          `expected an issue at ${JSON.stringify(bad.path)}, got ${JSON.stringify(paths)}`,
        );
      },
    });
  }
  return checks;
}
